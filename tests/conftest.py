import os

import pytest
from hypothesis import HealthCheck, settings

# Shared hypothesis profile: no per-example deadline (2 shared cores make timing noisy);
# a fixed derandomised profile in CI so a run is reproducible.
settings.register_profile(
    "default", deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
settings.register_profile("ci", parent=settings.get_profile("default"), derandomize=True, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "default")


@pytest.fixture
def restore_policy():
    """Put led_ref's threading policy back (thread count, BLAS controller) after a test that changes it."""
    from led_ref import threads

    controller = threads.get_blas_controller()
    yield
    threads.set_num_threads(None)
    threads.set_blas_controller(controller)


@pytest.fixture(autouse=True, scope="session")
def _onnx_cache_in_a_temporary_directory(tmp_path_factory):
    """``--backend onnx`` on a checkpoint caches its export (led_ref.app.onnx_cache): never in the user's cache
    directory during tests (subprocesses inherit the variable)."""
    saved = os.environ.get("LED_REF_ONNX_CACHE")
    os.environ["LED_REF_ONNX_CACHE"] = str(tmp_path_factory.mktemp("onnx-cache"))
    yield
    if saved is None:
        os.environ.pop("LED_REF_ONNX_CACHE", None)
    else:
        os.environ["LED_REF_ONNX_CACHE"] = saved
