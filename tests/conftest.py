import os

from hypothesis import HealthCheck, settings

# Shared hypothesis profile: no per-example deadline (2 shared cores make timing noisy);
# a fixed derandomised profile in CI so a run is reproducible.
settings.register_profile(
    "default", deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
settings.register_profile(
    "ci", parent=settings.get_profile("default"), derandomize=True, print_blob=True
)
settings.load_profile("ci" if os.environ.get("CI") else "default")
