import os

import pytest


@pytest.fixture
def mnist_dir():
    """The real MNIST folder from DORLAB_MNIST_DIR (CI sets it in .ci/run).

    A developer without the data gets these tests skipped with the reason; under CI (CI=true) a missing
    variable is a failure, so a broken CI configuration cannot pass by skipping.
    """
    directory = os.environ.get("DORLAB_MNIST_DIR")
    if not directory:
        message = "set DORLAB_MNIST_DIR to the folder with the four MNIST IDX files"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return directory
