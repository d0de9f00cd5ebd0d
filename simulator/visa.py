"""dorlab's simulated VISA library: a ``pyvisa.highlevel.VisaLibraryBase`` whose resources are
the SCPI instrument models of a ``World``.

Three ways in, all the same code path above VISA:

    pyvisa.ResourceManager("@dorlab")            # process-wide default world (shared by every
    PYVISA_LIBRARY=@dorlab                       #   ResourceManager("@dorlab"), like real hardware)
    pyvisa.ResourceManager("bench.toml@dorlab")  # process-wide world built from a TOML file
    lib = DorlabVisaLibrary(world)               # an instance owning its own world (tests)
    pyvisa.ResourceManager(lib); Keithley2450("GPIB0::24::INSTR", visa_library=lib)

pyvisa caches library objects per (class, path) in ``VisaLibraryBase._registry``. A string
specification is a *shared* bench (every driver opening "@dorlab" must reach the same
instruments, as with hardware), so it is cached here too. An explicit ``DorlabVisaLibrary(world)``
gets a unique library path, so each instance has its own world and nothing leaks between
tests. ``DorlabVisaLibrary.forget_shared()`` drops the shared worlds.

Behaviour follows a GPIB session: a write is one program message (END on the last byte);
a read returns the instrument's pending response, stopping at the termination character when
enabled; a read with no response pending waits the session timeout (simulated time) and raises
``VisaIOError(VI_ERROR_TMO)`` -- the instrument also queues -420 "Query UNTERMINATED".
"""
from __future__ import annotations

import itertools
import random
from typing import Any, Dict, Tuple

from pyvisa import attributes, constants, errors, highlevel, rname
from pyvisa.util import LibraryPath

from .recording import TrafficRecorder
from .world import World, normalise_address

StatusCode = constants.StatusCode
_SUCCESS = StatusCode.success
_TERMCHAR_READ = StatusCode.success_termination_character_read


class _Session:
    """One open VISA session to a message-based resource."""

    def __init__(self, resource_name: str, parsed, target):
        self.resource_name = resource_name
        self.parsed = parsed
        self.target = target
        self.session_type = (parsed.interface_type_const, parsed.resource_class)
        self.attrs: Dict[int, Any] = {
            constants.ResourceAttribute.resource_name: resource_name,
            constants.ResourceAttribute.resource_class: parsed.resource_class,
            constants.ResourceAttribute.interface_type: parsed.interface_type_const,
        }
        self.pending_input = bytearray()
        self._framing: tuple | None = None  # (send_end, termchar, termchar as bytes) cache

    def get(self, attribute) -> Tuple[Any, StatusCode]:
        attr = attributes.AttributesByID.get(attribute)
        if attr is None or not attr.in_resource(self.session_type):
            return 0, StatusCode.error_nonsupported_attribute
        return self.attrs.setdefault(attribute, attr.default), StatusCode.success

    def set(self, attribute, value) -> StatusCode:
        attr = attributes.AttributesByID.get(attribute)
        if attr is None or not attr.in_resource(self.session_type):
            return StatusCode.error_nonsupported_attribute
        if not attr.write:
            return StatusCode.error_attribute_read_only
        self.attrs[attribute] = value
        self._framing = None
        return StatusCode.success

    def framing(self) -> tuple[bool, int | None, bytes | None]:
        """(END asserted on writes, termination character of reads or None, the same as bytes)."""
        if self._framing is None:
            enabled = self.get(constants.ResourceAttribute.termchar_enabled)[0]
            termchar = self.get(constants.ResourceAttribute.termchar)[0] if enabled else None
            send_end = bool(self.get(constants.ResourceAttribute.send_end_enabled)[0])
            self._framing = (send_end, termchar, None if termchar is None else bytes([termchar]))
        return self._framing

    @property
    def timeout_ms(self) -> float:
        return self.get(constants.ResourceAttribute.timeout_value)[0]

    @property
    def termchar(self) -> int | None:
        enabled = self.get(constants.ResourceAttribute.termchar_enabled)[0]
        return self.get(constants.ResourceAttribute.termchar)[0] if enabled else None

    @property
    def send_end(self) -> bool:
        return bool(self.get(constants.ResourceAttribute.send_end_enabled)[0])


class MessageLibrary(highlevel.VisaLibraryBase):
    """Session bookkeeping, attributes and read framing shared by the live simulator and the
    replay library. Subclasses implement ``_target``, ``_resources``, ``_deliver``,
    ``_response`` and ``_no_response``."""

    sessions: Dict[int, Any]

    @staticmethod
    def get_library_paths():
        return (LibraryPath("default"),)

    @staticmethod
    def get_debug_info():
        return {"backend": "dorlab simulated bench"}

    def _init(self) -> None:
        self.sessions = {}
        self._next_session = itertools.count(random.randint(1, 1000) * 1000 + 1)

    def _register(self, obj) -> int:
        session = next(self._next_session)
        self.sessions[session] = obj
        return session

    def _get_session(self, session) -> _Session:
        try:
            sess = self.sessions[session]
        except KeyError:
            self.handle_return_value(session, StatusCode.error_invalid_object)
            raise  # unreachable: handle_return_value raised
        if not isinstance(sess, _Session):
            self.handle_return_value(session, StatusCode.error_nonsupported_operation)
        return sess

    # -- resource manager ----------------------------------------------------------------------
    def open_default_resource_manager(self):
        session = self._register(self)
        return session, self.handle_return_value(session, StatusCode.success)

    def list_resources(self, session, query: str = "?*::INSTR"):
        resources = rname.filter(self._resources(), query)
        if not resources:
            raise errors.VisaIOError(StatusCode.error_resource_not_found.value)
        return tuple(resources)

    def open(self, session, resource_name: str,
             access_mode=constants.AccessModes.no_lock,
             open_timeout=constants.VI_TMO_IMMEDIATE):
        try:
            parsed = rname.parse_resource_name(resource_name)
        except rname.InvalidResourceName:
            return 0, self.handle_return_value(None, StatusCode.error_invalid_resource_name)
        name = str(parsed)
        target = self._target(name)
        if target is None:
            return 0, self.handle_return_value(None, StatusCode.error_resource_not_found)
        new = self._register(_Session(name, parsed, target))
        return new, self.handle_return_value(new, StatusCode.success)

    def close(self, session):
        if session not in self.sessions:
            # already gone with its resource manager (garbage collection closes late)
            return StatusCode.success
        obj = self.sessions.pop(session)
        if obj is self:  # the resource manager: its resources go with it
            for key in [k for k, v in self.sessions.items() if isinstance(v, _Session)]:
                del self.sessions[key]
        return StatusCode.success

    # -- attributes ------------------------------------------------------------------------------
    def get_attribute(self, session, attribute):
        obj = self.sessions.get(session)
        if obj is None:
            return 0, self.handle_return_value(None, StatusCode.error_invalid_object)
        if obj is self:
            return 0, self.handle_return_value(session, StatusCode.error_nonsupported_attribute)
        value, status = obj.get(attribute)
        return value, self.handle_return_value(session, status)

    def set_attribute(self, session, attribute, attribute_state):
        obj = self.sessions.get(session)
        if obj is None:
            return self.handle_return_value(None, StatusCode.error_invalid_object)
        if obj is self:
            return self.handle_return_value(session, StatusCode.error_nonsupported_attribute)
        return self.handle_return_value(session, obj.set(attribute, attribute_state))

    # -- I/O ---------------------------------------------------------------------------------------
    def _succeeded(self, session, status: StatusCode) -> StatusCode:
        """``handle_return_value`` for a success code, without its enum conversion: a reading
        loop pays this twice per reading. Warnings and errors take pyvisa's own path."""
        if status in self.issue_warning_on:
            return self.handle_return_value(session, status)
        self._last_status = status
        self._last_status_in_session[session] = status
        return status

    def write(self, session, data: bytes):
        sess = self.sessions.get(session)
        if sess is None or sess.__class__ is not _Session:
            sess = self._get_session(session)  # raises the VISA error
        if data.__class__ is not bytes:
            data = bytes(data)
        count = len(data)
        send_end = (sess._framing or sess.framing())[0]
        if sess.pending_input:
            sess.pending_input += data
            if send_end or data.endswith(b"\n"):
                message = bytes(sess.pending_input)
                sess.pending_input.clear()
                self._deliver(sess, message, count)
        elif send_end or data.endswith(b"\n"):
            self._deliver(sess, data, count)  # the whole message in one write
        else:
            sess.pending_input += data
        return count, self._succeeded(session, _SUCCESS)

    def read(self, session, count: int):
        return self._read_session(session, self._get_session(session), count)

    def _read_session(self, session, sess, count: int):
        response = self._response(sess)
        if not response:
            self._no_response(sess)
            return b"", self.handle_return_value(session, StatusCode.error_timeout)
        termchar = sess.framing()[2]
        size = len(response)
        index = -1 if termchar is None else response.find(termchar, 0, count)
        if index == size - 1:
            # the usual case: one reply that ends in the termination character, read whole
            chunk = bytes(response)
            response.clear()
            self._after_read(sess, chunk)
            return chunk, self._succeeded(session, StatusCode.success_termination_character_read)
        if index >= 0:
            end = index + 1
            status = StatusCode.success_termination_character_read
        else:
            end = min(count, size)
            status = StatusCode.success_max_count_read
            if end < count and sess.parsed.interface_type_const == constants.InterfaceType.asrl:
                # a serial line has no END: a reply that does not end in the controller's
                # termination character leaves the read waiting until its timeout
                response.clear()
                self._no_response(sess, queue_error=False)
                return b"", self.handle_return_value(session, StatusCode.error_timeout)
        chunk = bytes(response[:end])
        del response[:end]
        if status == StatusCode.success_max_count_read and not response:
            status = StatusCode.success  # END asserted with the last byte
        self._after_read(sess, chunk)
        return chunk, self._succeeded(session, status)

    def _after_read(self, sess, chunk: bytes) -> None:
        pass

    def clear(self, session):
        sess = self._get_session(session)
        sess.pending_input.clear()
        response = self._response(sess)
        if response is not None:
            response.clear()
        return self.handle_return_value(session, StatusCode.success)

    def flush(self, session, mask):
        sess = self._get_session(session)
        if mask & (constants.BufferOperation.discard_read_buffer
                   | constants.BufferOperation.discard_receive_buffer):
            response = self._response(sess)
            if response is not None:
                response.clear()
        return self.handle_return_value(session, StatusCode.success)

    def assert_trigger(self, session, protocol):
        self._get_session(session)
        return self.handle_return_value(session, StatusCode.success)

    def gpib_control_ren(self, session, mode):
        self._get_session(session)
        return self.handle_return_value(session, StatusCode.success)

    def lock(self, session, lock_type, timeout, requested_key=None):
        self._get_session(session)
        return "", self.handle_return_value(session, StatusCode.success)

    def unlock(self, session):
        self._get_session(session)
        return self.handle_return_value(session, StatusCode.success)

    def disable_event(self, session, event_type, mechanism):
        return StatusCode.success

    def discard_events(self, session, event_type, mechanism):
        return StatusCode.success

    def enable_event(self, session, event_type, mechanism, context=None):
        return self.handle_return_value(session, StatusCode.error_nonsupported_operation)


class DorlabVisaLibrary(MessageLibrary):
    """The simulated bench as a VISA library. ``world``: a ``World`` (default:
    ``World.default()``), or a string specification (what pyvisa passes for "...@dorlab"):
    "" for the shared default world, a TOML path for a shared world from that file."""

    _shared: Dict[str, "DorlabVisaLibrary"] = {}
    _instances = itertools.count(1)
    world: World

    def __new__(cls, world: World | str | None = None, library_path: str = ""):
        if isinstance(world, (str, LibraryPath)):
            spec = str(world)
            if spec in ("", "default", "unset"):
                spec = "default"
            shared = cls._shared.get(spec)
            if shared is not None:
                return shared
            obj = super().__new__(cls, LibraryPath(f"dorlab:{spec}", "dorlab shared world"))
            obj.world = World.default() if spec == "default" else World.from_file(spec)
            obj._start()
            cls._shared[spec] = obj
            return obj
        path = LibraryPath(library_path or f"dorlab:world-{next(cls._instances)}", "dorlab world")
        obj = super().__new__(cls, path)
        if getattr(obj, "_started", False):  # same explicit path handed in twice
            if world is not None and world is not obj.world:
                raise ValueError(f"library path {library_path!r} already serves another world")
            return obj
        obj.world = world if world is not None else World.default()
        obj._start()
        return obj

    def _start(self) -> None:
        self._started = True
        self.recorder: TrafficRecorder | None = None
        if self.world.traffic_log is not None:
            self.record(self.world.traffic_log)

    @classmethod
    def forget_shared(cls) -> None:
        """Drop the process-wide worlds behind "@dorlab" (a fresh bench next time)."""
        for lib in cls._shared.values():
            if lib.recorder is not None:
                lib.recorder.close()
            # pyvisa's own cache would otherwise hand the old world back
            highlevel.VisaLibraryBase._registry.pop((cls, lib.library_path), None)
        cls._shared.clear()

    # -- recording ---------------------------------------------------------------------------------
    def record(self, path) -> TrafficRecorder:
        """Log every message to and from the instruments to a JSON-lines file at ``path``."""
        if self.recorder is not None:
            self.recorder.close()
        self.recorder = TrafficRecorder(path, clock=self.world.clock)
        self.world.recorder = self.recorder
        return self.recorder

    def stop_recording(self) -> None:
        if self.recorder is not None:
            self.recorder.close()
            self.recorder = None
            self.world.recorder = None

    # -- the world behind the sessions -------------------------------------------------------------
    def _resources(self):
        return list(self.world.instruments)

    def _target(self, name: str):
        return self.world.instruments.get(normalise_address(name))

    def _faults(self, sess):
        if not self.world.faults:
            return ()
        faults = self.world.faults.get(sess.resource_name)
        if faults:
            faults[:] = [f for f in faults if not f.exhausted]
        return faults or ()

    def _lost(self, sess) -> bool:
        faults = self._faults(sess)
        if not faults:
            return False
        from .faults import DroppedConnection

        return any(isinstance(f, DroppedConnection) for f in faults)

    def _deliver(self, sess, message: bytes, count: int) -> None:
        if self.recorder is not None:
            self.recorder.log(sess.resource_name, "write", message)
        if self.world.faults and self._lost(sess):
            gpib = sess.parsed.interface_type_const == constants.InterfaceType.gpib
            self.handle_return_value(None, StatusCode.error_no_listeners if gpib
                                     else StatusCode.error_connection_lost)
        sess.target.receive(message)

    def _response(self, sess):
        return sess.target.output

    def read(self, session, count: int):
        sess = self.sessions.get(session)
        if sess is None or sess.__class__ is not _Session:
            sess = self._get_session(session)  # raises the VISA error
        if self.world.faults:
            faults = self._faults(sess)
            if faults:
                self._read_faults(sess, faults)
        response = sess.target.output
        termchar = (sess._framing or sess.framing())[2]
        if termchar is not None and self.recorder is None and response:
            # the usual case, as MessageLibrary reads it: one whole reply ending in the termchar
            if response.find(termchar, 0, count) == len(response) - 1:
                chunk = bytes(response)
                response.clear()
                return chunk, self._succeeded(session, _TERMCHAR_READ)
        return self._read_session(session, sess, count)

    def _read_faults(self, sess, faults) -> None:
        from .faults import GarbledReply, Timeout

        for fault in faults:
            if isinstance(fault, Timeout):
                fault.reads -= 1
                sess.target.output.clear()
                self._no_response(sess, queue_error=False)
            if isinstance(fault, GarbledReply) and sess.target.output:
                fault.replies -= 1
                garbled = fault.garble(bytes(sess.target.output), self.world.rng)
                sess.target.output[:] = garbled
        if self._lost(sess):
            self._no_response(sess, queue_error=False)

    def _no_response(self, sess, queue_error: bool = True) -> None:
        timeout = sess.timeout_ms
        if timeout is not None and timeout != constants.VI_TMO_INFINITE:
            self.world.clock.advance(timeout / 1000.0)
        if queue_error:
            sess.target.push_error(-420)
        if self.recorder is not None:
            self.recorder.log(sess.resource_name, "read", b"", error="VI_ERROR_TMO")
        self.handle_return_value(self._session_id(sess), StatusCode.error_timeout)

    def _session_id(self, sess):
        for key, value in self.sessions.items():
            if value is sess:
                return key
        return None

    def _after_read(self, sess, chunk: bytes) -> None:
        if self.recorder is not None:
            self.recorder.log(sess.resource_name, "read", chunk)

    def read_stb(self, session):
        sess = self._get_session(session)
        if self._lost(sess):
            self._no_response(sess, queue_error=False)
        return sess.target.status_byte(), self.handle_return_value(session, StatusCode.success)

    def assert_trigger(self, session, protocol):
        sess = self._get_session(session)
        sess.target.receive(b"*TRG")
        return self.handle_return_value(session, StatusCode.success)

    def clear(self, session):
        sess = self._get_session(session)
        if self._lost(sess):
            self._no_response(sess, queue_error=False)
        return super().clear(session)
