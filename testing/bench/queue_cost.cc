// //testing/bench:queue_cost — the queue's CPU cost per operation in one
// thread (CPU time, so other load on the machine does not count; no
// contention). ./bazelw run -c opt //testing/bench:queue_cost
#include <time.h>
#include <cstdio>
#include <string>
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "syncstream/queue/sync_queue.h"
using namespace syncstream;
namespace { absl::Time Cpu() { timespec ts; clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts); return absl::TimeFromTimespec(ts); } }
int main() {
  std::string name = absl::StrCat("cost-", getpid());
  auto q = SyncQueue::Create(name, 4 << 20);
  auto w = q->Attach("w", QueueRole::kWriter);
  std::string body(100, 'x');
  const int N = 2000000;
  absl::Time t0 = Cpu();
  for (int i = 0; i < N; ++i) (void)w->Append("t", body);
  absl::Time t1 = Cpu();
  printf("append, no reader: %.1f ns\n", absl::ToDoubleNanoseconds(t1 - t0) / N);
  auto r = q->Attach("r", QueueRole::kReader);
  size_t total = 0;
  t0 = Cpu();
  for (int i = 0; i < N / 1000; ++i) {
    for (int j = 0; j < 1000; ++j) (void)w->Append("t", body);
    auto n = r->ForEachAvailable([&](const QueueMessageView& m) { total += m.body.size(); });
  }
  t1 = Cpu();
  printf("append+read: %.1f ns per message (%zu)\n", absl::ToDoubleNanoseconds(t1 - t0) / N, total);
  QueueMessage m;
  t0 = Cpu();
  for (int i = 0; i < N / 1000; ++i) {
    for (int j = 0; j < 1000; ++j) (void)w->Append("t", body);
    for (int j = 0; j < 1000; ++j) (void)r->PopInto(&m);
  }
  t1 = Cpu();
  printf("append+PopInto: %.1f ns per message\n", absl::ToDoubleNanoseconds(t1 - t0) / N);
  std::vector<OutgoingMessage> batch(16, OutgoingMessage{"t", body});
  t0 = Cpu();
  for (int i = 0; i < N / 16; ++i) (void)w->AppendBatch(batch);
  t1 = Cpu();
  r->MarkAllRead().IgnoreError();
  printf("AppendBatch(16) (reader behind): %.1f ns per message\n", absl::ToDoubleNanoseconds(t1 - t0) / N);
  SyncQueue::Remove(name).IgnoreError();
}
