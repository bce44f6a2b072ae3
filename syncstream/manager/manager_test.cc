// The manager end to end: a Manager in this process (or in a child process
// where it must die), clients in threads, forked children and exec'd
// children (this binary re-run with SYNCSTREAM_MANAGER_TEST_ROLE set).
#include "syncstream/manager/manager.h"

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <future>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "syncstream/core/child_process.h"
#include "syncstream/core/unique_fd.h"
#include "syncstream/manager/client.h"
#include "syncstream/manager/proxies.h"
#include "syncstream/manager/user_type.h"
#include "syncstream/net/testing/test_server.h"
#include "syncstream/core/deadline.h"

namespace syncstream::manager {
namespace {

constexpr char kKeyBytes[] = "manager-test-key-0123456789";
constexpr char kRoleEnv[] = "SYNCSTREAM_MANAGER_TEST_ROLE";
constexpr char kAddressEnv[] = "SYNCSTREAM_MANAGER_TEST_ADDRESS";
constexpr char kArgEnv[] = "SYNCSTREAM_MANAGER_TEST_ARG";
// Bounds every wait of the test itself; reached only when something hangs.
constexpr absl::Duration kLong = absl::Seconds(20);

net::AuthKey TestKey() { return *net::AuthKey::FromBytes(kKeyBytes); }

std::shared_ptr<ManagerClient> MustConnect(const std::string& address) {
  absl::StatusOr<std::shared_ptr<ManagerClient>> client =
      ManagerClient::Connect(address, TestKey());
  if (!client.ok()) {
    std::fprintf(stderr, "connect: %s\n", client.status().ToString().c_str());
    std::_Exit(90);
  }
  return *client;
}

// Child bodies return an exit code: 0 on success, something telling else.
#define CHILD_CHECK(cond)                                               \
  do {                                                                  \
    if (!(cond)) {                                                      \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
                   #cond);                                              \
      return 1;                                                         \
    }                                                                   \
  } while (0)

// A pipe for "I got here" messages from a child.
struct Signal {
  UniqueFd read, write;
  static Signal Make() {
    int fds[2];
    if (::pipe(fds) != 0) std::abort();
    return Signal{UniqueFd(fds[0]), UniqueFd(fds[1])};
  }
  void Send() const { (void)!::write(write.get(), "x", 1); }
  bool Wait() const {
    pollfd p{read.get(), POLLIN, 0};
    if (::poll(&p, 1, absl::ToInt64Milliseconds(kLong)) != 1) return false;
    char c;
    return ::read(read.get(), &c, 1) == 1;
  }
};

constexpr int kContendRounds = 40;

// One contending process: under the Lock, "inside" must be 0 on entry;
// inside the Semaphore(2), at most 2 are counted.
int ContendRole(const std::string& address, net::AuthKey key) {
  absl::StatusOr<std::shared_ptr<ManagerClient>> connected =
      ManagerClient::Connect(address, std::move(key));
  CHILD_CHECK(connected.ok());
  auto c = *connected;
  absl::StatusOr<Lock> lock = c->Get<Lock>("lock");
  absl::StatusOr<Semaphore> sem = c->Get<Semaphore>("sem");
  absl::StatusOr<Dict> d = c->Get<Dict>("counters");
  CHILD_CHECK(lock.ok() && sem.ok() && d.ok());
  auto bump = [&](const char* key, int64_t by) -> int64_t {
    int64_t v = d->Get(key)->as_int() + by;
    (void)d->Set(key, Value(v));
    return v;
  };
  for (int i = 0; i < kContendRounds; ++i) {
    CHILD_CHECK(lock->Acquire(kLong).ok());
    if (bump("inside", 1) != 1) bump("violations", 1);
    bump("total", 1);
    bump("inside", -1);
    CHILD_CHECK(lock->Release().ok());

    CHILD_CHECK(sem->Acquire(kLong).ok());
    CHILD_CHECK(lock->Acquire(kLong).ok());
    int64_t in = bump("in_sem", 1);
    if (in > 2) bump("violations", 1);
    if (in > d->Get("max_in_sem")->as_int()) (void)d->Set("max_in_sem", Value(in));
    CHILD_CHECK(lock->Release().ok());
    absl::SleepFor(absl::Microseconds(200));  // let others in
    CHILD_CHECK(lock->Acquire(kLong).ok());
    bump("in_sem", -1);
    CHILD_CHECK(lock->Release().ok());
    CHILD_CHECK(sem->Release().ok());
  }
  CHILD_CHECK(c->Sync().ok());
  return 0;
}

int NestedListRole(const std::string& address, uint64_t list_id);
int BlockOnLockRole(const std::string& address, const std::string& name);

// The entry point of an exec'd child.
int RunRole(const std::string& role) {
  const char* address = std::getenv(kAddressEnv);
  const char* arg = std::getenv(kArgEnv);
  if (address == nullptr || arg == nullptr) return 91;
  if (role == "nested_list") {
    return NestedListRole(address, std::strtoull(arg, nullptr, 10));
  }
  if (role == "block_on_lock") return BlockOnLockRole(address, arg);
  if (role == "serve") {
    ManagerOptions options;
    options.key = *net::AuthKey::Load("");
    absl::StatusOr<net::Address> listen = net::ParseAddress(arg);
    if (!listen.ok()) return 93;
    absl::StatusOr<std::unique_ptr<Manager>> m =
        Manager::Start(*listen, std::move(options));
    if (!m.ok()) return 94;
    for (;;) ::pause();  // until SIGKILLed
  }
  if (role == "contend") return ContendRole(address, *net::AuthKey::Load(""));
  return 92;
}

class ManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ManagerOptions options;
    options.key = TestKey();
    absl::StatusOr<std::unique_ptr<Manager>> manager = Manager::Start(
        net::testing::UniqueUnixAddress(), std::move(options));
    ASSERT_TRUE(manager.ok()) << manager.status();
    manager_ = *std::move(manager);
    address_ = manager_->address().ToString();
    RegisterTypes(*manager_);
  }

  static void RegisterTypes(Manager& manager) {
    // The seed lesson's registered string type.
    UserType<std::string> my_string("my_string");
    my_string
        .Factory([](const std::vector<Value>& args)
                     -> absl::StatusOr<std::unique_ptr<std::string>> {
          return std::make_unique<std::string>(
              args.empty() ? "" : args[0].as_string());
        })
        .Method("isdigit",
                [](std::string& s, const UserCall&) -> absl::StatusOr<Value> {
                  bool digits = !s.empty();
                  for (char c : s) digits = digits && c >= '0' && c <= '9';
                  return Value(digits);
                })
        .Method("capitalize",
                [](std::string& s, const UserCall&) -> absl::StatusOr<Value> {
                  std::string out = s;
                  if (!out.empty()) out[0] = std::toupper(out[0]);
                  return Value(out);
                })
        .ConcurrentMethod(
            "slow_echo",
            [](std::string&, const UserCall& call) -> absl::StatusOr<Value> {
              absl::SleepFor(absl::Milliseconds(call.args.at(1).as_int()));
              return call.args.at(0);
            });
    ASSERT_TRUE(manager.RegisterType(my_string.definition()).ok());
  }

  // Waits until the manager shows `n` waiters on object `id`.
  bool WaitForWaiters(ManagerClient& client, uint64_t id, int64_t n) {
    absl::Time deadline = ::syncstream::Now() + kLong;
    while (::syncstream::Now() < deadline) {
      absl::StatusOr<Value> objects = client.ListObjects();
      if (!objects.ok()) return false;
      for (const Value& o : objects->as_list()) {
        if (o.as_dict().at("id").as_int() == static_cast<int64_t>(id) &&
            o.as_dict().at("waiters").as_int() == n) {
          return true;
        }
      }
      absl::SleepFor(absl::Milliseconds(2));
    }
    return false;
  }

  static ChildProcess ForkChild(std::function<int()> body) {
    absl::StatusOr<ChildProcess> child = ChildProcess::Fork(std::move(body));
    if (!child.ok()) std::abort();
    return *std::move(child);
  }

  // Runs this test binary again in the role `role`.
  ChildProcess ExecChild(const std::string& role, const std::string& arg) {
    SpawnOptions options;
    options.argv = {"/proc/self/exe"};
    char self[4096];
    ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n > 0) options.argv[0] = std::string(self, n);
    options.env = {{kRoleEnv, role},
                   {kAddressEnv, address_},
                   {kArgEnv, arg},
                   {net::kAuthKeyEnvVar, kKeyBytes}};
    absl::StatusOr<ChildProcess> child = ChildProcess::Spawn(options);
    if (!child.ok()) std::abort();
    return *std::move(child);
  }

  static void ExpectSuccess(ChildProcess& child) {
    absl::StatusOr<ExitStatus> status = child.Wait(kLong);
    ASSERT_TRUE(status.ok()) << status.status();
    EXPECT_TRUE(status->success()) << status->ToString();
  }

  std::unique_ptr<Manager> manager_;
  std::string address_;
};

TEST_F(ManagerTest, ProxiesOverARealConnection) {
  auto client = MustConnect(address_);
  absl::StatusOr<Dict> dict = client->GetOrCreate<Dict>("config");
  ASSERT_TRUE(dict.ok()) << dict.status();
  ASSERT_TRUE(dict->Set("answer", Value(42)).ok());
  EXPECT_EQ(*dict->Get("answer"), Value(42));
  EXPECT_EQ(dict->Get("missing").status().code(), absl::StatusCode::kNotFound);

  absl::StatusOr<Queue> queue = client->Create<Queue>({Value(1)});
  ASSERT_TRUE(queue.ok());
  ASSERT_TRUE(queue->Put(Value("a"), absl::ZeroDuration()).ok());
  EXPECT_EQ(queue->Put(Value("b"), absl::Milliseconds(10)).code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(*queue->Get(kLong), Value("a"));

  absl::StatusOr<Namespace> ns = client->Create<Namespace>();
  ASSERT_TRUE(ns->Set("x", Value(1.5)).ok());
  EXPECT_EQ(*ns->Get("x"), Value(1.5));

  // A posted call's error comes back from Sync().
  absl::StatusOr<Lock> lock = client->Create<Lock>();
  ASSERT_TRUE(lock->Release().ok());  // posted: not held
  absl::Status next = client->Sync();
  EXPECT_EQ(next.code(), absl::StatusCode::kFailedPrecondition) << next;
  EXPECT_NE(next.message().find("release of an unlocked lock"),
            absl::string_view::npos);
  absl::StatusOr<bool> locked = lock->Locked();
  EXPECT_TRUE(locked.ok()) << locked.status();

  EXPECT_EQ(client->GetOrCreate<Lock>("config").status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(ManagerTest, ConditionWaitForAcrossClients) {
  auto a = MustConnect(address_);
  auto b = MustConnect(address_);
  Condition cond = *a->GetOrCreate<Condition>("c");
  Dict state = *a->GetOrCreate<Dict>("state");
  ASSERT_TRUE(state.Set("ready", Value(false)).ok());
  auto waiter = std::async(std::launch::async, [&] {
    absl::Status s = cond.Acquire(kLong);
    if (!s.ok()) return s;
    s = cond.WaitFor(
        [&]() -> absl::StatusOr<bool> {
          absl::StatusOr<Value> ready = state.Get("ready");
          if (!ready.ok()) return ready.status();
          return ready->as_bool();
        },
        kLong);
    (void)cond.Release();
    return s;
  });
  Condition cond_b = *b->Get<Condition>("c");
  Dict state_b = *b->Get<Dict>("state");
  ASSERT_TRUE(WaitForWaiters(*b, cond_b.id(), 1));
  ASSERT_TRUE(cond_b.Acquire(kLong).ok());
  ASSERT_TRUE(state_b.Set("ready", Value(true)).ok());
  ASSERT_TRUE(cond_b.NotifyAll().ok());
  ASSERT_TRUE(cond_b.Release().ok());
  EXPECT_TRUE(waiter.get().ok());
}

// Seed lesson 1: a semaphore handshake with a child that uses a registered
// type.
// A client waiting to acquire a Condition's lock gets it while the holder
// waits on the Condition (the wait frees the lock), and can notify it.
TEST_F(ManagerTest, ConditionWaitLetsAWaitingAcquirerIn) {
  auto a = MustConnect(address_);
  auto b = MustConnect(address_);
  Condition ca = *a->Create<Condition>();
  Condition cb = *b->Attach<Condition>(ca.id());
  ASSERT_TRUE(ca.Acquire(kLong).ok());
  auto notifier = std::async(std::launch::async, [&] {
    absl::Status acquired = cb.Acquire(kLong);
    if (!acquired.ok()) return acquired;
    absl::Status notified = cb.Notify();
    absl::Status released = cb.Release();
    absl::Status synced = b->Sync();
    if (!notified.ok()) return notified;
    if (!released.ok()) return released;
    return synced;
  });
  auto observer = MustConnect(address_);
  ASSERT_TRUE(WaitForWaiters(*observer, ca.id(), 1));
  EXPECT_TRUE(ca.Wait(kLong).ok());  // b got the lock and notified
  ASSERT_EQ(notifier.wait_for(std::chrono::seconds(20)),
            std::future_status::ready);
  EXPECT_TRUE(notifier.get().ok());
  EXPECT_TRUE(ca.Release().ok());
  EXPECT_TRUE(a->Sync().ok());
}

TEST_F(ManagerTest, SeedSemaphoreHandshake) {
  auto client = MustConnect(address_);
  Semaphore sem = *client->Create<Semaphore>({Value(0)});
  UserProxy my_string =
      *client->GetOrCreateUser("my_string", "my_string", {Value("educative")});
  const uint64_t sem_id = sem.id();
  ChildProcess child = ForkChild([&]() -> int {
    auto c = MustConnect(address_);
    absl::StatusOr<UserProxy> s =
        c->GetOrCreateUser("my_string", "my_string", {});
    CHILD_CHECK(s.ok());
    absl::StatusOr<Semaphore> child_sem = c->Attach<Semaphore>(sem_id);
    CHILD_CHECK(child_sem.ok());
    CHILD_CHECK(child_sem->Release().ok());
    CHILD_CHECK(*s->Call("isdigit") == Value(false));
    CHILD_CHECK(*s->Call("capitalize") == Value("Educative"));
    return 0;
  });
  EXPECT_TRUE(sem.Acquire(kLong).ok());
  ExpectSuccess(child);
  EXPECT_EQ(*my_string.Call("capitalize"), Value("Educative"));
}

// Seed lesson 2: a list shared by two processes alternating through two
// semaphores.
TEST_F(ManagerTest, SeedListAlternatingThroughTwoSemaphores) {
  auto client = MustConnect(address_);
  Semaphore sem1 = *client->Create<Semaphore>({Value(0)});
  Semaphore sem2 = *client->Create<Semaphore>({Value(0)});
  List list = *client->Create<List>({Value(ValueList{Value(0), Value(0), Value(0)})});
  const uint64_t s1 = sem1.id(), s2 = sem2.id(), l = list.id();
  ChildProcess p1 = ForkChild([&]() -> int {
    auto c = MustConnect(address_);
    List lst = *c->Attach<List>(l);
    CHILD_CHECK(lst.Set(0, Value(1)).ok());
    CHILD_CHECK(c->Attach<Semaphore>(s1)->Release().ok());
    CHILD_CHECK(c->Attach<Semaphore>(s2)->Acquire(kLong).ok());
    // Process 2's change is visible here.
    CHILD_CHECK(*lst.GetAll() == (ValueList{Value(2), Value(0), Value(0)}));
    return 0;
  });
  ChildProcess p2 = ForkChild([&]() -> int {
    auto c = MustConnect(address_);
    List lst = *c->Attach<List>(l);
    CHILD_CHECK(c->Attach<Semaphore>(s1)->Acquire(kLong).ok());
    CHILD_CHECK(*lst.GetAll() == (ValueList{Value(1), Value(0), Value(0)}));
    CHILD_CHECK(lst.Set(0, Value(2)).ok());
    CHILD_CHECK(c->Attach<Semaphore>(s2)->Release().ok());
    return 0;
  });
  ExpectSuccess(p1);
  ExpectSuccess(p2);
  EXPECT_EQ(*list.GetAll(), (ValueList{Value(2), Value(0), Value(0)}));
}

// Seed lesson 3, in an exec'd child (Python's "spawn"): a nested managed list
// appended and then mutated keeps the mutation.
TEST_F(ManagerTest, SeedNestedListKeepsTheNestedMutation) {
  auto client = MustConnect(address_);
  List lst = *client->Create<List>({Value(ValueList{Value(0), Value(0), Value(0)})});
  ChildProcess child = ExecChild("nested_list", absl::StrCat(lst.id()));
  ExpectSuccess(child);
  absl::StatusOr<ValueList> all = lst.GetAll();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 4u);
  EXPECT_EQ((*all)[0], Value(1));
  absl::StatusOr<List> nested = client->FromRef<List>((*all)[3]);
  ASSERT_TRUE(nested.ok()) << nested.status();
  EXPECT_EQ(*nested->GetAll(), (ValueList{Value(99), Value(98), Value(97)}));
}

int NestedListRole(const std::string& address, uint64_t list_id) {
  absl::StatusOr<std::shared_ptr<ManagerClient>> c =
      ManagerClient::Connect(address, *net::AuthKey::Load(""));
  CHILD_CHECK(c.ok());
  absl::StatusOr<List> lst = (*c)->Attach<List>(list_id);
  CHILD_CHECK(lst.ok());
  CHILD_CHECK(lst->Set(0, Value(1)).ok());
  absl::StatusOr<List> nested = (*c)->Create<List>();
  CHILD_CHECK(nested.ok());
  CHILD_CHECK(lst->Append(nested->ref()).ok());
  for (int v : {99, 98, 97}) CHILD_CHECK(nested->Append(Value(v)).ok());
  CHILD_CHECK((*c)->Sync().ok());
  return 0;
}

// A forked child that uses its parent's client gets FailedPrecondition at
// once (not a 30 s stall on a reply the parent may read); dropping its
// copies sends nothing and leaves the parent's connection working.
TEST_F(ManagerTest, ParentsClientInAForkedChildFailsAtOnce) {
  auto client = MustConnect(address_);
  std::optional<Lock> lock(*client->GetOrCreate<Lock>("F"));
  ASSERT_TRUE(lock->Acquire(kLong).ok());
  ASSERT_TRUE(lock->Release().ok());  // deferred: the flusher thread starts
  ChildProcess child = ForkChild([&]() -> int {
    absl::Status acquired = lock->Acquire(kLong);
    CHILD_CHECK(acquired.code() == absl::StatusCode::kFailedPrecondition);
    CHILD_CHECK(absl::StrContains(acquired.message(), "forked child"));
    CHILD_CHECK(client->Sync().code() == absl::StatusCode::kFailedPrecondition);
    CHILD_CHECK(lock->Release().code() == absl::StatusCode::kFailedPrecondition);
    lock.reset();    // its release is not sent
    client->Close();  // nor is the shared socket shut down
    client.reset();
    return 0;
  });
  ExpectSuccess(child);
  ASSERT_TRUE(client->Sync().ok());
  absl::StatusOr<bool> locked = lock->Locked();
  ASSERT_TRUE(locked.ok()) << locked.status();
  EXPECT_FALSE(*locked);
  EXPECT_TRUE(lock->Acquire(kLong).ok());
  EXPECT_TRUE(client->Sync().ok());
}

// More objects than one frame can list: the listing arrives in pages
// (without them, the one reply outgrew the frame limit and the connection
// was lost).
TEST_F(ManagerTest, ListingOutgrowingAFrameArrivesInPages) {
  ClientOptions options;
  options.max_frame_bytes = 64 << 10;
  absl::StatusOr<std::shared_ptr<ManagerClient>> client =
      ManagerClient::Connect(address_, TestKey(), options);
  ASSERT_TRUE(client.ok()) << client.status();
  constexpr int kObjects = 2000;  // about 100 bytes each listed
  for (int i = 0; i < kObjects; ++i) {
    ASSERT_TRUE((*client)->GetOrCreate<Lock>(absl::StrCat("many-", i)).ok());
  }
  absl::StatusOr<Value> objects = (*client)->ListObjects();
  ASSERT_TRUE(objects.ok()) << objects.status();
  EXPECT_EQ(objects->as_list().size(), static_cast<size_t>(kObjects));
  EXPECT_TRUE((*client)->Sync().ok());
}

TEST_F(ManagerTest, KilledHolderReleasesTheLock) {
  auto client = MustConnect(address_);
  Lock lock = *client->GetOrCreate<Lock>("L");
  Signal held = Signal::Make();
  ChildProcess child = ForkChild([&]() -> int {
    auto c = MustConnect(address_);
    CHILD_CHECK(c->GetOrCreate<Lock>("L")->Acquire(kLong).ok());
    CHILD_CHECK(c->Sync().ok());
    held.Send();
    ::pause();
    return 0;
  });
  ASSERT_TRUE(held.Wait());
  EXPECT_EQ(lock.Acquire(absl::ZeroDuration()).code(),
            absl::StatusCode::kDeadlineExceeded);
  ASSERT_TRUE(child.Kill(SIGKILL).ok());
  EXPECT_TRUE(lock.Acquire(kLong).ok());
}

// Lock::Release is deferred: written with the client's next call. With no
// next call the client's flusher still delivers it, here to a waiter in
// another process; and a later call of the same client sees it done.
TEST_F(ManagerTest, DeferredReleaseArrivesWithoutAnotherCall) {
  auto holder = MustConnect(address_);
  Lock lock = *holder->GetOrCreate<Lock>("D");
  ASSERT_TRUE(lock.Acquire(kLong).ok());
  ASSERT_TRUE(lock.Release().ok());
  absl::StatusOr<bool> locked = lock.Locked();  // written after the release
  ASSERT_TRUE(locked.ok()) << locked.status();
  EXPECT_FALSE(*locked);

  ASSERT_TRUE(lock.Acquire(kLong).ok());
  Signal acquired = Signal::Make();
  ChildProcess child = ForkChild([&]() -> int {
    auto c = MustConnect(address_);
    CHILD_CHECK(c->Get<Lock>("D")->Acquire(kLong).ok());
    acquired.Send();
    return 0;
  });
  auto observer = MustConnect(address_);
  ASSERT_TRUE(WaitForWaiters(*observer, lock.id(), 1));
  ASSERT_TRUE(lock.Release().ok());  // and no other call on `holder`
  EXPECT_TRUE(acquired.Wait());
  ExpectSuccess(child);
}

TEST_F(ManagerTest, ClientKilledWhileBlockedLeavesNoPhantomHolder) {
  auto client = MustConnect(address_);
  Lock lock = *client->GetOrCreate<Lock>("L");
  ASSERT_TRUE(lock.Acquire(kLong).ok());
  ChildProcess child = ExecChild("block_on_lock", "L");
  ASSERT_TRUE(WaitForWaiters(*client, lock.id(), 1));
  ASSERT_TRUE(child.Kill(SIGKILL).ok());
  ASSERT_TRUE(child.Wait(kLong).ok());
  ASSERT_TRUE(WaitForWaiters(*client, lock.id(), 0));
  ASSERT_TRUE(lock.Release().ok());
  ASSERT_TRUE(client->Sync().ok());  // the release is done
  auto other = MustConnect(address_);
  EXPECT_TRUE(other->Get<Lock>("L")->Acquire(absl::ZeroDuration()).ok());
  absl::StatusOr<Value> objects = other->ListObjects();
  ASSERT_TRUE(objects.ok());
  for (const Value& o : objects->as_list()) {
    if (o.as_dict().at("name") == Value("L")) {
      ASSERT_EQ(o.as_dict().at("holders").as_list().size(), 1u);
    }
  }
}

int BlockOnLockRole(const std::string& address, const std::string& name) {
  absl::StatusOr<std::shared_ptr<ManagerClient>> c =
      ManagerClient::Connect(address, *net::AuthKey::Load(""));
  CHILD_CHECK(c.ok());
  (void)(*c)->GetOrCreate<Lock>(name)->Acquire(absl::InfiniteDuration());
  return 3;  // never reached: killed while waiting
}

TEST_F(ManagerTest, WrongKeyIsRejected) {
  absl::StatusOr<std::shared_ptr<ManagerClient>> client = ManagerClient::Connect(
      address_, *net::AuthKey::FromBytes("not-the-right-key-at-all"));
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), absl::StatusCode::kUnauthenticated)
      << client.status();
  EXPECT_FALSE(ManagerClient::Connect(address_, net::AuthKey()).ok());
}

TEST_F(ManagerTest, ServerKilledMeansUnavailable) {
  // The manager runs in an exec'd child (a fork of this multi-threaded
  // process must not start threads).
  net::Address address = net::testing::UniqueUnixAddress();
  ChildProcess server = ExecChild("serve", address.ToString());
  absl::Time deadline = ::syncstream::Now() + kLong;
  absl::StatusOr<std::shared_ptr<ManagerClient>> connected;
  do {
    absl::SleepFor(absl::Milliseconds(5));
    connected = ManagerClient::Connect(address.ToString(), TestKey());
  } while (!connected.ok() && ::syncstream::Now() < deadline);
  ASSERT_TRUE(connected.ok()) << connected.status();
  std::shared_ptr<ManagerClient> client = *connected;
  Lock lock = *client->Create<Lock>();
  Dict dict = *client->Create<Dict>();
  ASSERT_TRUE(lock.Acquire(kLong).ok());
  auto blocked = std::async(std::launch::async, [&] {
    return lock.Acquire(absl::InfiniteDuration());
  });
  ASSERT_TRUE(WaitForWaiters(*client, lock.id(), 1));
  ASSERT_TRUE(server.Kill(SIGKILL).ok());
  ASSERT_EQ(blocked.wait_for(std::chrono::seconds(20)),
            std::future_status::ready);
  EXPECT_EQ(blocked.get().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(dict.Get("k").status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(lock.Locked().status().code(), absl::StatusCode::kUnavailable);
  ::unlink(address.path.c_str());
}

TEST_F(ManagerTest, TimedOutCallNeverHandsItsReplyToTheNext) {
  ClientOptions options;
  options.reply_timeout = absl::Milliseconds(50);
  absl::StatusOr<std::shared_ptr<ManagerClient>> client =
      ManagerClient::Connect(address_, TestKey(), options);
  ASSERT_TRUE(client.ok());
  UserProxy s = *(*client)->CreateUser("my_string", {Value("x")});
  // The manager answers after the client gave up...
  EXPECT_EQ(s.Call("slow_echo", {Value("late"), Value(300)}).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  // ...and the next calls get their own replies.
  EXPECT_EQ(*s.Call("slow_echo", {Value("second"), Value(0)}), Value("second"));
  absl::SleepFor(absl::Milliseconds(350));  // let the late reply arrive
  EXPECT_EQ(*s.Call("capitalize"), Value("X"));
  // A lock acquire that times out on the manager, then a dict get.
  Lock lock = *(*client)->Create<Lock>();
  auto other = MustConnect(address_);
  ASSERT_TRUE(other->Attach<Lock>(lock.id())->Acquire(kLong).ok());
  EXPECT_EQ(lock.Acquire(absl::Milliseconds(20)).code(),
            absl::StatusCode::kDeadlineExceeded);
  Dict dict = *(*client)->Create<Dict>({Value(ValueDict{{"k", Value("v")}})});
  EXPECT_EQ(*dict.Get("k"), Value("v"));
}

// 4 processes (2 forked, 2 exec'd) contend on a Lock and a Semaphore(2);
// counters kept in the manager prove mutual exclusion.
TEST_F(ManagerTest, FourProcessesContendOnLockAndSemaphore) {
  auto client = MustConnect(address_);
  Dict counters = *client->GetOrCreate<Dict>(
      "counters", {Value(ValueDict{{"inside", Value(0)},
                                   {"total", Value(0)},
                                   {"in_sem", Value(0)},
                                   {"max_in_sem", Value(0)},
                                   {"violations", Value(0)}})});
  (void)*client->GetOrCreate<Lock>("lock");
  (void)*client->GetOrCreate<Semaphore>("sem", {Value(2)});
  std::vector<ChildProcess> children;
  for (int i = 0; i < 2; ++i) {
#if defined(__SANITIZE_THREAD__)
    // A contending client releases Locks, which starts its flusher thread
    // (deferred releases, client.h): TSan cannot run threads in a child
    // forked from this multi-threaded process, so all four are exec'd.
    children.push_back(ExecChild("contend", ""));
#else
    children.push_back(ForkChild([&]() -> int {
      return ContendRole(address_, TestKey());
    }));
#endif
    children.push_back(ExecChild("contend", ""));
  }
  for (ChildProcess& child : children) ExpectSuccess(child);
  EXPECT_EQ(*counters.Get("violations"), Value(0));
  EXPECT_EQ(*counters.Get("total"), Value(4 * kContendRounds));
  EXPECT_EQ(*counters.Get("in_sem"), Value(0));
  absl::StatusOr<Value> max_in_sem = counters.Get("max_in_sem");
  EXPECT_GE(max_in_sem->as_int(), 1);
  EXPECT_LE(max_in_sem->as_int(), 2);
}

TEST_F(ManagerTest, BarrierRoundsAcrossProcesses) {
  auto client = MustConnect(address_);
  Barrier barrier = *client->GetOrCreate<Barrier>("b", {Value(3)});
  List arrivals = *client->GetOrCreate<List>("arrivals");
  std::vector<ChildProcess> children;
  for (int i = 0; i < 3; ++i) {
    children.push_back(ForkChild([&, i]() -> int {
      auto c = MustConnect(address_);
      Barrier b = *c->Get<Barrier>("b");
      List a = *c->Get<List>("arrivals");
      for (int round = 0; round < 5; ++round) {
        CHILD_CHECK(a.Append(Value(round)).ok());
        absl::StatusOr<int64_t> index = b.Wait(kLong);
        CHILD_CHECK(index.ok() && *index >= 0 && *index < 3);
        // Everyone arrived for this round before anyone passed it.
        absl::StatusOr<int64_t> n = a.Count(Value(round));
        CHILD_CHECK(n.ok() && *n == 3);
      }
      return 0;
    }));
  }
  for (ChildProcess& child : children) ExpectSuccess(child);
  EXPECT_EQ(*arrivals.Len(), 15);
  EXPECT_FALSE(*barrier.Broken());
}

TEST_F(ManagerTest, QueueProducersAndConsumersExactCounts) {
  constexpr int kProducers = 2, kConsumers = 2, kItems = 300;
  auto client = MustConnect(address_);
  Queue queue = *client->GetOrCreate<Queue>("jobs", {Value(16)});
  Dict results = *client->GetOrCreate<Dict>("results");
  std::vector<ChildProcess> children;
  for (int p = 0; p < kProducers; ++p) {
    children.push_back(ForkChild([&, p]() -> int {
      auto c = MustConnect(address_);
      Queue q = *c->Get<Queue>("jobs");
      for (int i = 0; i < kItems; ++i) {
        CHILD_CHECK(q.Put(Value(p * kItems + i), kLong).ok());
      }
      return 0;
    }));
  }
  for (int k = 0; k < kConsumers; ++k) {
    children.push_back(ForkChild([&, k]() -> int {
      auto c = MustConnect(address_);
      Queue q = *c->Get<Queue>("jobs");
      int64_t count = 0, sum = 0;
      for (;;) {
        absl::StatusOr<Value> item = q.Get(kLong);
        CHILD_CHECK(item.ok());
        CHILD_CHECK(q.TaskDone().ok());
        if (item->is_null()) break;  // the sentinel
        ++count;
        sum += item->as_int();
      }
      Dict r = *c->Get<Dict>("results");
      CHILD_CHECK(r.Set(absl::StrCat("count", k), Value(count)).ok());
      CHILD_CHECK(r.Set(absl::StrCat("sum", k), Value(sum)).ok());
      CHILD_CHECK(c->Sync().ok());
      return 0;
    }));
  }
  for (int p = 0; p < kProducers; ++p) ExpectSuccess(children[p]);
  for (int k = 0; k < kConsumers; ++k) {
    ASSERT_TRUE(queue.Put(Value(), kLong).ok());
  }
  for (size_t i = kProducers; i < children.size(); ++i) {
    ExpectSuccess(children[i]);
  }
  EXPECT_TRUE(queue.Join(kLong).ok());
  const int64_t n = kProducers * kItems;
  EXPECT_EQ(results.Get("count0")->as_int() + results.Get("count1")->as_int(), n);
  EXPECT_EQ(results.Get("sum0")->as_int() + results.Get("sum1")->as_int(),
            n * (n - 1) / 2);
}

}  // namespace
}  // namespace syncstream::manager

int main(int argc, char** argv) {
  if (const char* role = std::getenv(syncstream::manager::kRoleEnv)) {
    return syncstream::manager::RunRole(role);
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
