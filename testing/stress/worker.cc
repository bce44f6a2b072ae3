#include "testing/stress/worker.h"

#include <stdio.h>

#include <memory>
#include <string>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "syncstream/core/status_macros.h"
#include "syncstream/core/deadline.h"

namespace syncstream::stress {

absl::Status RunWorker(const WorkerParams& params, WorkerChannel& channel,
                       CommitLedger& ledger) {
  uint64_t written = 0;
  for (uint64_t seq = 0; params.lines == 0 || seq < params.lines; ++seq) {
    // Reading the clock costs ~20 ns; once per 64 lines is enough.
    if (seq % 64 == 0 && ::syncstream::Now() >= params.stop_at) break;
    std::string line = MakeLine(params.spec, params.worker, seq);
    line.push_back('\n');
    absl::Status status = channel.WriteLine(line);
    if (!status.ok()) {
      return absl::Status(status.code(),
                          absl::StrCat("worker ", params.worker, " line ", seq,
                                       ": ", status.message()));
    }
    ++written;
    ledger.Record(params.worker, written, channel.Committed(written));
  }
  absl::Status closed = channel.Close();
  ledger.Record(params.worker, written, channel.Committed(written));
  if (!closed.ok()) {
    return absl::Status(closed.code(), absl::StrCat("worker ", params.worker,
                                                    " close: ",
                                                    closed.message()));
  }
  // Everything written is delivered once Close returned.
  ledger.Record(params.worker, written, written);
  ledger.MarkFinished(params.worker);
  return absl::OkStatus();
}

std::vector<std::string> WorkerArgv(const std::string& self_exe,
                                    const WorkerParams& params, int ledger_fd,
                                    const std::string& token) {
  const int64_t stop_ns = params.stop_at == absl::InfiniteFuture()
                              ? int64_t{-1}
                              : absl::ToUnixNanos(params.stop_at);
  return {self_exe,
          kWorkerFlag,
          params.spec.kind,
          absl::StrCat(params.worker),
          absl::StrCat(params.workers),
          absl::StrCat(params.lines),
          absl::StrCat(params.spec.length),
          absl::StrCat(params.spec.seed),
          absl::StrCat(ledger_fd),
          absl::StrCat(stop_ns),
          token};
}

namespace {

absl::Status RunExecWorker(int argc, char** argv) {
  if (argc != 11) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected 9 arguments after --worker, got ", argc - 2));
  }
  WorkerParams params;
  params.spec.kind = argv[2];
  int ledger_fd = -1;
  int64_t stop_ns = -1;
  if (!absl::SimpleAtoi(argv[3], &params.worker) ||
      !absl::SimpleAtoi(argv[4], &params.workers) ||
      !absl::SimpleAtoi(argv[5], &params.lines) ||
      !absl::SimpleAtoi(argv[6], &params.spec.length) ||
      !absl::SimpleAtoi(argv[7], &params.spec.seed) ||
      !absl::SimpleAtoi(argv[8], &ledger_fd) ||
      !absl::SimpleAtoi(argv[9], &stop_ns) || params.worker < 0 ||
      params.worker >= params.workers) {
    return absl::InvalidArgumentError("malformed --worker arguments");
  }
  if (stop_ns >= 0) params.stop_at = absl::FromUnixNanos(stop_ns);
  Kind* kind = FindKind(params.spec.kind);
  if (kind == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("no stress kind '", params.spec.kind, "'"));
  }
  SYNCSTREAM_ASSIGN_OR_RETURN(CommitLedger ledger,
                              CommitLedger::Attach(ledger_fd, params.workers));
  SYNCSTREAM_ASSIGN_OR_RETURN(std::unique_ptr<WorkerChannel> channel,
                              kind->OpenExecChannel(params.worker, argv[10]));
  return RunWorker(params, *channel, ledger);
}

}  // namespace

int ExecWorkerMain(int argc, char** argv) {
  absl::Status status = RunExecWorker(argc, argv);
  if (!status.ok()) {
    fprintf(stderr, "stress worker: %s\n", status.ToString().c_str());
    return status.code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  return 0;
}

}  // namespace syncstream::stress
