"""cc_test twins that run one test binary on each clock source."""

def clock_source_tests(name, **kwargs):
    """Defines `name` (SYNCSTREAM_CLOCK=tsc) and `name`_clock_gettime.

    The clock source is chosen once per process (syncstream/core/internal/
    tsc.h), so each source needs a process of its own. On a CPU without an
    invariant TSC both run on clock_gettime (the test says so).
    """
    env = kwargs.pop("env", {})
    native.cc_test(
        name = name,
        env = dict(env, SYNCSTREAM_CLOCK = "tsc"),
        **kwargs
    )
    native.cc_test(
        name = name + "_clock_gettime",
        env = dict(env, SYNCSTREAM_CLOCK = "clock_gettime"),
        **kwargs
    )
