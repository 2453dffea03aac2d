"""placeholder"""
def require_ray():
    try:
        import ray  # noqa: F401
        import ray.data  # noqa: F401
    except ImportError:
        raise ImportError("--engine ray needs the scale extra: pip install -e '.[scale]'") from None
