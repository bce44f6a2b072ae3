// queue_test_helper: the exec'd side of the queue's multi-process tests.
//
//   queue_test_helper write QUEUE NAME COUNT
//   queue_test_helper read QUEUE NAME COUNT WRITER...
//   queue_test_helper append-once QUEUE NAME        (with a test hook env var)
//   queue_test_helper write-hostile QUEUE COUNT     (HostileBodies, as "w0")
//   queue_test_helper pop-block QUEUE NAME          (blocks in Pop for 60 s)
//   queue_test_helper append-block QUEUE NAME       (blocks in Append for 60 s)
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "syncstream/queue/sync_queue.h"
#include "syncstream/queue/testing/queue_test_util.h"

namespace {

int Usage() {
  std::cerr << "usage: queue_test_helper write|write-hostile|read|append-once|pop-block|append-block ...\n";
  return 64;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace syncstream;
  if (argc < 4) return Usage();
  const std::string mode = argv[1], queue = argv[2], name = argv[3];
  if (mode == "write" && argc == 5) {
    int count = 0;
    if (!absl::SimpleAtoi(argv[4], &count)) return Usage();
    return queue_testing::RunWriter(queue, name, count);
  }
  if (mode == "write-hostile" && argc == 4) {
    int count = 0;
    if (!absl::SimpleAtoi(argv[3], &count)) return Usage();
    return queue_testing::RunHostileWriter(queue, count);
  }
  if (mode == "read" && argc >= 6) {
    int count = 0;
    if (!absl::SimpleAtoi(argv[4], &count)) return Usage();
    std::vector<std::string> writers(argv + 5, argv + argc);
    return queue_testing::RunReader(queue, name, writers, count);
  }
  auto q = SyncQueue::Open(queue);
  if (!q.ok()) {
    std::cerr << q.status() << "\n";
    return 2;
  }
  if (mode == "append-once" || mode == "append-block") {
    auto me = q->Attach(name, QueueRole::kWriter);
    if (!me.ok()) return 3;
    const bool block = mode == "append-block";
    absl::Status st = me->Append("doomed", "from " + name,
                                 AppendOptions{.block = block, .timeout = absl::Seconds(60)});
    std::cerr << "append: " << st << "\n";
    return st.ok() ? 0 : 4;
  }
  if (mode == "pop-block") {
    auto me = q->Attach(name, QueueRole::kReader);
    if (!me.ok()) return 3;
    auto m = me->Pop(PopOptions{.timeout = absl::Seconds(60)});
    return m.ok() ? 0 : 4;
  }
  return Usage();
}
