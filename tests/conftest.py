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
