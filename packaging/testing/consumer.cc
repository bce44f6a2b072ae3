// A program outside the syncstream tree, built against an installed
// syncstream by the CMake and pkg-config consumer tests: two threads write
// to a LineBuffer, a forked child writes to a LineProcBuffer, and it prints
// what each buffer holds. Exits 0 only if every line arrived.
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "syncstream/core/child_process.h"
#include "syncstream/proc/line_proc_buffer.h"
#include "syncstream/proc/line_proc_mirror.h"
#include "syncstream/thread/line_buffer.h"
#include "syncstream/version.h"

namespace {

int Fail(const std::string& what, const absl::Status& status) {
  std::cerr << "consumer: " << what << ": " << status << "\n";
  return 1;
}

}  // namespace

int main() {
  std::cout << "syncstream " << SYNCSTREAM_VERSION_STRING << "\n";

  auto buffer = syncstream::LineBuffer::Create(10);
  if (!buffer.ok()) return Fail("LineBuffer::Create", buffer.status());
  std::thread writer([&] { (*buffer)->stream() << "from a thread\n"; });
  writer.join();
  (*buffer)->stream() << "from main\n";
  if (absl::Status s = (*buffer)->Close(); !s.ok()) return Fail("Close", s);
  for (const syncstream::Record& r : (*buffer)->Read()) {
    std::cout << "thread: " << r.text << "\n";
  }
  if ((*buffer)->Size() != 2) {
    std::cerr << "consumer: LineBuffer holds " << (*buffer)->Size()
              << " records, not 2\n";
    return 1;
  }

  auto procs = syncstream::LineProcBuffer::Create(10);
  if (!procs.ok()) return Fail("LineProcBuffer::Create", procs.status());
  auto mirror = (*procs)->NewMirror("child");
  if (!mirror.ok()) return Fail("NewMirror", mirror.status());
  syncstream::LineProcMirror& m = **mirror;
  auto child = syncstream::ChildProcess::Fork([&m] {
    return syncstream::RunInMirror(m, [&m] { (void)m.Write("from a child\n"); }).ok()
               ? 0
               : 1;
  });
  if (!child.ok()) return Fail("Fork", child.status());
  if (absl::Status s = (*procs)->Wait(absl::Seconds(30)); !s.ok()) {
    return Fail("LineProcBuffer::Wait", s);
  }
  auto exit_status = child->Wait(absl::Seconds(30));
  if (!exit_status.ok()) return Fail("child Wait", exit_status.status());
  bool found = false;
  for (const syncstream::Record& r : (*procs)->Read()) {
    if (r.text.empty()) continue;
    std::cout << "proc: " << r.text << "\n";
    found = found || r.text == "from a child";
  }
  if (!found) {
    std::cerr << "consumer: the child's line did not reach the LineProcBuffer\n";
    return 1;
  }
  std::cout << "consumer: ok\n";
  return 0;
}
