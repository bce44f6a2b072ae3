"""syncstream_fuzzer: one fuzz target, two ways to run it.

    syncstream_fuzzer(
        name = "queue_segment_fuzzer",
        srcs = ["queue_segment_fuzzer.cc"],   # defines LLVMFuzzerTestOneInput
        deps = ["//syncstream/queue"],
    )

makes
  - `<name>_replay_test`: a cc_test that feeds the seed corpus
    (`corpus/<name>/*`, if any) and a deterministic stream of random and
    mutated inputs to the target. It runs in `./bazelw test //...`, and under
    --config=asan/ubsan it becomes a short sanitized fuzz run.
  - `<name>`: a libFuzzer binary when built with --config=fuzz (clang-14,
    -fsanitize=fuzzer,address,undefined), a replay binary otherwise:
        ./bazelw build --config=fuzz //testing/fuzz:<name>
        bazel-bin/testing/fuzz/<name> -max_total_time=60 testing/fuzz/corpus/<name>
"""

def syncstream_fuzzer(name, srcs, deps = [], corpus = None, replay_iterations = 20000, **kwargs):
    if corpus == None:
        corpus = native.glob(["corpus/%s/**" % name])
    native.cc_library(
        name = name + "_target",
        srcs = srcs,
        deps = deps,
        alwayslink = 1,
        testonly = 1,
    )
    native.cc_binary(
        name = name,
        deps = [":" + name + "_target"] + select({
            "//testing/fuzz:libfuzzer": [],
            "//conditions:default": ["//testing/fuzz:replay_main"],
        }),
        linkopts = select({
            "//testing/fuzz:libfuzzer": ["-fsanitize=fuzzer"],
            "//conditions:default": [],
        }),
        testonly = 1,
        **kwargs
    )
    native.cc_test(
        name = name + "_replay_test",
        size = "small",
        deps = [
            ":" + name + "_target",
            "//testing/fuzz:replay_main",
        ],
        data = corpus,
        args = ["--iterations=%d" % replay_iterations] +
               ["$(rootpath %s)" % f for f in corpus],
        **kwargs
    )
