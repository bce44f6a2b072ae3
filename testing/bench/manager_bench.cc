// //testing/bench:manager — syncstream's Manager against Python's
// SyncManager, in the same invocation, on the same workloads:
//
//   lock pairs/s (1 client)     Lock acquire + release
//   lock pairs/s (4 clients)    4 client processes on one Lock
//   dict set+get pairs/s        one client
//   list append/s               one client (the final length is checked)
//   semaphore ping-pong/s       two processes, two Semaphores(0)
//
// Both managers run in their own process and every client process has its
// own connection (Unix sockets on both sides).
//
//   ./bazelw run -c opt //testing/bench:manager -- --seconds=1.5
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include <gflags/gflags.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "syncstream/core/child_process.h"
#include "syncstream/core/unique_fd.h"
#include "syncstream/manager/client.h"
#include "syncstream/manager/manager.h"
#include "syncstream/manager/proxies.h"
#include "syncstream/core/deadline.h"
#include "tools/flag_help.h"

DEFINE_double(seconds, 1.0, "duration of each measurement");
DEFINE_string(python, "python3", "the Python interpreter for the baseline");
DEFINE_string(python_script, "testing/bench/manager_baseline.py",
              "the baseline script (Python's SyncManager)");
DEFINE_bool(skip_python, false, "measure syncstream only");
DEFINE_int32(spin_us, -1,
             "busy-poll limit of the manager and clients in microseconds "
             "(ManagerOptions/ClientOptions::spin_limit; -1: their default, "
             "0: never spin)");
DEFINE_string(workloads, "",
              "comma-separated subset of lock_pairs_1, lock_pairs_4, "
              "dict_set_get, list_append, semaphore_ping_pong (default: all)");

namespace syncstream::manager {
namespace {

constexpr absl::Duration kLong = absl::Seconds(30);

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "manager bench: %s\n", what.c_str());
  std::exit(1);
}

template <typename T>
T Must(absl::StatusOr<T> v, const char* what) {
  if (!v.ok()) Die(absl::StrCat(what, ": ", v.status().ToString()));
  return *std::move(v);
}

void Must(const absl::Status& s, const char* what) {
  if (!s.ok()) Die(absl::StrCat(what, ": ", s.ToString()));
}

// A child writes one double (its result) to a pipe.
struct ResultPipe {
  UniqueFd read, write;
  ResultPipe() {
    int fds[2];
    if (::pipe(fds) != 0) Die("pipe");
    read.Reset(fds[0]);
    write.Reset(fds[1]);
  }
  void Put(double v) const { (void)!::write(write.get(), &v, sizeof(v)); }
  double Get() const {
    double v = 0;
    if (::read(read.get(), &v, sizeof(v)) != sizeof(v)) Die("child result");
    return v;
  }
};

ChildProcess Fork(std::function<int()> body) {
  return Must(ChildProcess::Fork(std::move(body)), "fork");
}

void Join(ChildProcess& child) {
  ExitStatus status = Must(child.Wait(kLong), "child");
  if (!status.success()) Die(absl::StrCat("child ", status.ToString()));
}

std::shared_ptr<ManagerClient> Connect(const std::string& address) {
  ClientOptions options;
  if (FLAGS_spin_us >= 0) options.spin_limit = absl::Microseconds(FLAGS_spin_us);
  return Must(ManagerClient::Connect(address, net::AuthKey(), options),
              "connect");
}

// Runs `step` (returning operations done) for FLAGS_seconds; ops/s.
template <typename Step>
double Rate(Step step) {
  int64_t n = 0;
  absl::Time start = ::syncstream::Now();
  absl::Time end = start + absl::Seconds(FLAGS_seconds);
  absl::Time now = start;
  while (now < end) {
    n += step();
    now = ::syncstream::Now();
  }
  return n / absl::ToDoubleSeconds(now - start);
}

double LockPairs(const std::string& address, int clients) {
  {
    auto c = Connect(address);
    Must(c->GetOrCreate<Lock>("bench-lock"), "lock");
  }
  ResultPipe results;
  std::vector<ChildProcess> children;
  for (int i = 0; i < clients; ++i) {
    children.push_back(Fork([&]() -> int {
      auto c = Connect(address);
      Lock lock = Must(c->Get<Lock>("bench-lock"), "lock");
      results.Put(Rate([&] {
        for (int k = 0; k < 50; ++k) {
          Must(lock.Acquire(kLong), "acquire");
          Must(lock.Release(), "release");
        }
        return 50;
      }));
      Must(c->Sync(), "sync");
      return 0;
    }));
  }
  double total = 0;
  for (int i = 0; i < clients; ++i) total += results.Get();
  for (ChildProcess& child : children) Join(child);
  return total;
}

double DictPairs(const std::string& address) {
  auto c = Connect(address);
  Dict d = Must(c->Create<Dict>(), "dict");
  const std::string keys[8] = {"k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7"};
  double rate = Rate([&] {
    for (int i = 0; i < 50; ++i) {
      Must(d.Set(keys[i & 7], Value(i)), "set");
      Must(d.Get(keys[i & 7]), "get");
    }
    return 50;
  });
  return rate;
}

double ListAppends(const std::string& address) {
  auto c = Connect(address);
  List l = Must(c->Create<List>(), "list");
  int64_t n = 0;
  absl::Time start = ::syncstream::Now();
  absl::Time end = start + absl::Seconds(FLAGS_seconds);
  while (::syncstream::Now() < end) {
    for (int i = 0; i < 50; ++i) Must(l.Append(Value(i)), "append");
    n += 50;
  }
  // Every append has been applied once the length is read.
  int64_t len = Must(l.Len(), "len");
  double seconds = absl::ToDoubleSeconds(::syncstream::Now() - start);
  if (len != n) Die(absl::StrCat("list has ", len, " items, appended ", n));
  return n / seconds;
}

double PingPong(const std::string& address) {
  const int rounds = std::max(1000, static_cast<int>(FLAGS_seconds * 20000));
  uint64_t s1, s2;
  auto c = Connect(address);
  Semaphore sem1 = Must(c->Create<Semaphore>({Value(0)}), "sem");
  Semaphore sem2 = Must(c->Create<Semaphore>({Value(0)}), "sem");
  s1 = sem1.id();
  s2 = sem2.id();
  ResultPipe results;
  ChildProcess pong = Fork([&]() -> int {
    auto pc = Connect(address);
    Semaphore a = Must(pc->Attach<Semaphore>(s1), "attach");
    Semaphore b = Must(pc->Attach<Semaphore>(s2), "attach");
    for (int i = 0; i < rounds; ++i) {
      Must(a.Acquire(kLong), "acquire");
      Must(b.Release(), "release");
    }
    Must(pc->Sync(), "sync");
    return 0;
  });
  ChildProcess ping = Fork([&]() -> int {
    auto pc = Connect(address);
    Semaphore a = Must(pc->Attach<Semaphore>(s1), "attach");
    Semaphore b = Must(pc->Attach<Semaphore>(s2), "attach");
    absl::Time start = ::syncstream::Now();
    for (int i = 0; i < rounds; ++i) {
      Must(a.Release(), "release");
      Must(b.Acquire(kLong), "acquire");
    }
    results.Put(rounds / absl::ToDoubleSeconds(::syncstream::Now() - start));
    return 0;
  });
  double rate = results.Get();
  Join(ping);
  Join(pong);
  return rate;
}

std::map<std::string, double> RunPython() {
  std::map<std::string, double> figures;
  int fds[2];
  if (::pipe(fds) != 0) Die("pipe");
  UniqueFd read_end(fds[0]), write_end(fds[1]);
  SpawnOptions options;
  options.argv = {FLAGS_python, FLAGS_python_script,
                  absl::StrCat(FLAGS_seconds), FLAGS_workloads};
  options.stdout_to = FdRedirect::To(write_end.get());
  ChildProcess python = Must(ChildProcess::Spawn(options), "python3");
  write_end.Reset();
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(read_end.get(), buf, sizeof(buf))) > 0) out.append(buf, n);
  Join(python);
  for (absl::string_view line : absl::StrSplit(out, '\n', absl::SkipEmpty())) {
    std::vector<std::string> parts = absl::StrSplit(line, ' ');
    double v;
    if (parts.size() == 2 && absl::SimpleAtod(parts[1], &v)) {
      figures[parts[0]] = v;
    }
  }
  return figures;
}

int Main() {
  std::string path =
      absl::StrCat("/tmp/ss-manager-bench-", ::getpid(), ".sock");
  net::Address address;
  address.family = net::Address::Family::kUnix;
  address.path = path;
  ResultPipe ready;
  // The manager gets a process of its own, like Python's.
  ChildProcess server = Fork([&]() -> int {
    ManagerOptions options;
    if (FLAGS_spin_us >= 0) options.spin_limit = absl::Microseconds(FLAGS_spin_us);
    auto manager = Must(Manager::Start(address, options), "start");
    ready.Put(1);
    ::pause();
    return 0;
  });
  ready.Get();
  const std::string a = address.ToString();

  struct Workload {
    const char* key;
    const char* label;
    std::function<double()> run;
  };
  const std::vector<Workload> workloads = {
      {"lock_pairs_1", "lock acquire+release pairs/s, 1 client",
       [&] { return LockPairs(a, 1); }},
      {"lock_pairs_4", "lock acquire+release pairs/s, 4 clients",
       [&] { return LockPairs(a, 4); }},
      {"dict_set_get", "dict set+get pairs/s", [&] { return DictPairs(a); }},
      {"list_append", "list append/s", [&] { return ListAppends(a); }},
      {"semaphore_ping_pong", "semaphore ping-pong round trips/s",
       [&] { return PingPong(a); }},
  };
  const std::vector<std::string> wanted =
      absl::StrSplit(FLAGS_workloads, ',', absl::SkipEmpty());
  struct Figure {
    const char* key;
    const char* label;
    double ours;
  };
  std::vector<Figure> figures;
  for (const Workload& w : workloads) {
    if (!wanted.empty() &&
        std::find(wanted.begin(), wanted.end(), w.key) == wanted.end()) {
      continue;
    }
    figures.push_back({w.key, w.label, w.run()});
  }
  if (figures.empty()) Die(absl::StrCat("no workload in --workloads=", FLAGS_workloads));
  (void)server.Kill(SIGKILL);
  (void)server.Wait(kLong);
  ::unlink(path.c_str());

  std::map<std::string, double> python;
  if (!FLAGS_skip_python) python = RunPython();
  std::printf("%-44s %14s %14s %8s\n", "workload", "syncstream", "python",
              "ratio");
  for (const Figure& f : figures) {
    auto it = python.find(f.key);
    if (it == python.end()) {
      std::printf("%-44s %14.0f %14s %8s\n", f.label, f.ours, "-", "-");
    } else {
      std::printf("%-44s %14.0f %14.0f %7.1fx\n", f.label, f.ours, it->second,
                  f.ours / it->second);
    }
  }
  return 0;
}

}  // namespace
}  // namespace syncstream::manager

int main(int argc, char** argv) {
  syncstream::tools::ParseFlagsOrShowHelp(
      "manager: the Manager against Python's SyncManager in the same run (lock "
      "pairs from 1 and 4 clients, dict set+get, list append, semaphore "
      "ping-pong between two processes), with ratios.\n\nusage: manager [flags]",
      &argc, &argv);
  return syncstream::manager::Main();
}
