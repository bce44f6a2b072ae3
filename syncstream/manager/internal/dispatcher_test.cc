// The object model through the dispatcher, without sockets: sessions stand
// for clients, threads for blocked calls.
#include "syncstream/manager/internal/dispatcher.h"

#include <atomic>
#include <future>
#include <optional>
#include <thread>

#include "gtest/gtest.h"
#include "syncstream/core/deadline.h"

namespace syncstream::manager::internal {
namespace {

constexpr absl::Duration kForever = absl::InfiniteDuration();
// Generous: only reached when the code under test is broken.
constexpr absl::Duration kTestDeadline = absl::Seconds(20);

class DispatcherTest : public ::testing::Test {
 protected:
  // Runs a call the way a connection's worker thread would.
  absl::StatusOr<Value> Call(const std::shared_ptr<Session>& s,
                             uint64_t object,
                             const std::string& method,
                             std::vector<Value> args = {},
                             absl::Duration timeout = absl::ZeroDuration(),
                             uint64_t thread = 1, uint64_t request_id = 0) {
    proto::Request request = MakeRequest(object, method, args, timeout, thread);
    request.set_request_id(request_id);
    proto::Response response;
    EXPECT_EQ(dispatcher_.Execute(s, request, /*may_block=*/true, &response),
              Dispatcher::Outcome::kDone);
    return Decode(response);
  }

  static proto::Request MakeRequest(uint64_t object, const std::string& method,
                                    const std::vector<Value>& args,
                                    absl::Duration timeout, uint64_t thread) {
    proto::Request request;
    request.set_object_id(object);
    request.set_method(method);
    for (const Value& v : args) ToProto(v, request.add_args());
    request.set_thread_id(thread);
    request.set_timeout_us(timeout == kForever
                               ? -1
                               : absl::ToInt64Microseconds(timeout));
    return request;
  }

  static absl::StatusOr<Value> Decode(const proto::Response& response) {
    absl::Status status = StatusOf(response);
    if (!status.ok()) return status;
    return FromProto(response.result());
  }

  uint64_t Create(const std::shared_ptr<Session>& s, const std::string& type,
                  std::vector<Value> args = {}) {
    args.insert(args.begin(), Value(type));
    absl::StatusOr<Value> ref = Call(s, 0, "create", std::move(args));
    EXPECT_TRUE(ref.ok()) << ref.status();
    return ref.ok() ? ref->as_ref().object_id : 0;
  }

  // Waits until `n` calls wait inside object `id` (seen through `objects`).
  bool WaitForWaiters(uint64_t id, int64_t n) {
    absl::Time deadline = ::syncstream::Now() + kTestDeadline;
    while (::syncstream::Now() < deadline) {
      for (const auto& entry : dispatcher_.registry().Snapshot()) {
        if (entry.id == id && entry.object->Describe().waiters >= n) {
          return true;
        }
      }
      absl::SleepFor(absl::Milliseconds(1));
    }
    return false;
  }

  void End(const std::shared_ptr<Session>& s) {
    dispatcher_.CloseSession(*s);
    dispatcher_.EndSession(*s);
  }

  Dispatcher dispatcher_;
};

TEST_F(DispatcherTest, LockIsExclusiveAndTimesOut) {
  auto a = dispatcher_.OpenSession("a");
  auto b = dispatcher_.OpenSession("b");
  uint64_t lock = Create(a, "lock");
  ASSERT_TRUE(Call(a, lock, "acquire").ok());
  EXPECT_EQ(Call(b, lock, "acquire", {}, absl::Milliseconds(20)).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(Call(b, lock, "locked")->as_bool());
  ASSERT_TRUE(Call(a, lock, "release").ok());
  EXPECT_TRUE(Call(b, lock, "acquire").ok());
  EXPECT_EQ(Call(a, lock, "release").status().code(), absl::StatusCode::kOk);
  EXPECT_EQ(Call(a, lock, "release").status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(DispatcherTest, FastPathNeverBlocksAndChangesNothing) {
  auto a = dispatcher_.OpenSession("a");
  auto b = dispatcher_.OpenSession("b");
  uint64_t lock = Create(a, "lock");
  ASSERT_TRUE(Call(a, lock, "acquire").ok());
  proto::Request request =
      MakeRequest(lock, "acquire", {}, absl::Seconds(5), 1);
  proto::Response response;
  EXPECT_EQ(dispatcher_.Execute(b, request, /*may_block=*/false, &response),
            Dispatcher::Outcome::kNeedsThread);
  // A zero timeout is answered on the fast path.
  request.set_timeout_us(0);
  EXPECT_EQ(dispatcher_.Execute(b, request, /*may_block=*/false, &response),
            Dispatcher::Outcome::kDone);
  EXPECT_EQ(StatusOf(response).code(), absl::StatusCode::kDeadlineExceeded);
  ASSERT_TRUE(Call(a, lock, "release").ok());
  EXPECT_EQ(dispatcher_.Execute(b, request, /*may_block=*/false, &response),
            Dispatcher::Outcome::kDone);
  EXPECT_TRUE(StatusOf(response).ok());
}

TEST_F(DispatcherTest, DeadClientsLockIsReleased) {
  auto a = dispatcher_.OpenSession("a");
  auto b = dispatcher_.OpenSession("b");
  absl::StatusOr<Value> ref =
      Call(b, 0, "get_or_create", {Value("L"), Value("lock")});
  ASSERT_TRUE(ref.ok());
  uint64_t lock = ref->as_ref().object_id;
  ASSERT_TRUE(Call(a, lock, "acquire").ok());
  auto blocked = std::async(std::launch::async, [&] {
    return Call(b, lock, "acquire", {}, kForever).status();
  });
  ASSERT_TRUE(WaitForWaiters(lock, 1));
  End(a);
  ASSERT_EQ(blocked.wait_for(std::chrono::seconds(20)),
            std::future_status::ready);
  EXPECT_TRUE(blocked.get().ok());
}

TEST_F(DispatcherTest, ClientKilledWhileBlockedLeavesNoPhantomHolder) {
  auto a = dispatcher_.OpenSession("a");
  auto b = dispatcher_.OpenSession("b");
  auto c = dispatcher_.OpenSession("c");
  absl::StatusOr<Value> ref =
      Call(a, 0, "get_or_create", {Value("L"), Value("lock")});
  uint64_t lock = ref->as_ref().object_id;
  ASSERT_TRUE(Call(a, lock, "acquire").ok());
  auto blocked = std::async(std::launch::async, [&] {
    return Call(b, lock, "acquire", {}, kForever).status();
  });
  ASSERT_TRUE(WaitForWaiters(lock, 1));
  dispatcher_.CloseSession(*b);
  ASSERT_EQ(blocked.wait_for(std::chrono::seconds(20)),
            std::future_status::ready);
  EXPECT_EQ(blocked.get().code(), absl::StatusCode::kCancelled);
  dispatcher_.EndSession(*b);
  ASSERT_TRUE(Call(a, lock, "release").ok());
  EXPECT_TRUE(Call(c, lock, "acquire").ok());  // nobody else holds it
}

TEST_F(DispatcherTest, CancelledCallIsNotGranted) {
  auto a = dispatcher_.OpenSession("a");
  auto b = dispatcher_.OpenSession("b");
  uint64_t lock = Create(a, "lock");
  ASSERT_TRUE(Call(a, lock, "acquire").ok());
  auto blocked = std::async(std::launch::async, [&] {
    return Call(b, lock, "acquire", {}, kForever, 1, /*request_id=*/42)
        .status();
  });
  ASSERT_TRUE(WaitForWaiters(lock, 1));
  ASSERT_TRUE(Call(b, 0, "cancel", {Value(42)}).ok());
  EXPECT_EQ(blocked.get().code(), absl::StatusCode::kCancelled);
  ASSERT_TRUE(Call(a, lock, "release").ok());
  EXPECT_FALSE(Call(a, lock, "locked")->as_bool());
}

TEST_F(DispatcherTest, RLockCountsPerClientThread) {
  auto a = dispatcher_.OpenSession("a");
  uint64_t rlock = Create(a, "rlock");
  ASSERT_TRUE(Call(a, rlock, "acquire", {}, {}, /*thread=*/1).ok());
  ASSERT_TRUE(Call(a, rlock, "acquire", {}, {}, 1).ok());
  // Another thread of the same client does not own it.
  EXPECT_EQ(Call(a, rlock, "acquire", {}, absl::Milliseconds(10), 2)
                .status()
                .code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(Call(a, rlock, "release", {}, {}, 2).status().code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(Call(a, rlock, "release", {}, {}, 1).ok());
  EXPECT_FALSE(Call(a, rlock, "acquire", {}, {}, 2).ok());
  ASSERT_TRUE(Call(a, rlock, "release", {}, {}, 1).ok());
  EXPECT_TRUE(Call(a, rlock, "acquire", {}, {}, 2).ok());
}

TEST_F(DispatcherTest, SemaphoreGivesBackADeadClientsPermits) {
  auto a = dispatcher_.OpenSession("a");
  auto b = dispatcher_.OpenSession("b");
  absl::StatusOr<Value> ref = Call(
      a, 0, "get_or_create", {Value("S"), Value("bounded_semaphore"), Value(3)});
  uint64_t sem = ref->as_ref().object_id;
  ASSERT_TRUE(Call(b, sem, "acquire").ok());
  ASSERT_TRUE(Call(b, sem, "acquire").ok());
  ASSERT_TRUE(Call(a, sem, "acquire").ok());
  EXPECT_EQ(Call(a, sem, "value")->as_int(), 0);
  End(b);
  EXPECT_EQ(Call(a, sem, "value")->as_int(), 2);
  ASSERT_TRUE(Call(a, sem, "release").ok());
  EXPECT_EQ(Call(a, sem, "release").status().code(),
            absl::StatusCode::kFailedPrecondition);  // bounded at 3
}

TEST_F(DispatcherTest, SemaphoreSignalledByAnotherClientIsNotReturnedTwice) {
  // Ping-pong: b's releases settle a's acquisitions, so a dying a gives
  // back nothing it did not still hold.
  auto a = dispatcher_.OpenSession("a");
  auto b = dispatcher_.OpenSession("b");
  uint64_t sem = Create(a, "semaphore", {Value(0)});
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(Call(b, sem, "release").ok());
    ASSERT_TRUE(Call(a, sem, "acquire").ok());
  }
  // a dies holding only its last, unanswered acquisition.
  dispatcher_.CloseSession(*a);
  EXPECT_EQ(Call(b, sem, "value")->as_int(), 1);
}

TEST_F(DispatcherTest, EventWakesWaiters) {
  auto a = dispatcher_.OpenSession("a");
  uint64_t event = Create(a, "event");
  EXPECT_EQ(Call(a, event, "wait", {}, absl::Milliseconds(5)).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  auto waiter = std::async(std::launch::async, [&] {
    return Call(a, event, "wait", {}, kForever, 2).status();
  });
  ASSERT_TRUE(WaitForWaiters(event, 1));
  ASSERT_TRUE(Call(a, event, "set").ok());
  EXPECT_TRUE(waiter.get().ok());
  EXPECT_TRUE(Call(a, event, "is_set")->as_bool());
}

TEST_F(DispatcherTest, ConditionWaitNotifyAndTimeoutRetakesTheLock) {
  auto a = dispatcher_.OpenSession("a");
  auto b = dispatcher_.OpenSession("b");
  uint64_t cond = Create(a, "condition");
  EXPECT_EQ(Call(a, cond, "notify").status().code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(Call(a, cond, "acquire").ok());
  ASSERT_TRUE(Call(a, cond, "acquire").ok());  // recursive
  EXPECT_EQ(Call(a, cond, "wait", {}, absl::Milliseconds(5)).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  // Still held twice after the timeout.
  EXPECT_FALSE(Call(b, cond, "acquire", {}, absl::ZeroDuration()).ok());
  auto waiter = std::async(std::launch::async, [&] {
    return Call(a, cond, "wait", {}, kForever).status();
  });
  ASSERT_TRUE(WaitForWaiters(cond, 1));
  ASSERT_TRUE(Call(b, cond, "acquire", {}, absl::Seconds(20)).ok());
  ASSERT_TRUE(Call(b, cond, "notify_all").ok());
  ASSERT_TRUE(Call(b, cond, "release").ok());
  EXPECT_TRUE(waiter.get().ok());
  ASSERT_TRUE(Call(a, cond, "release").ok());
  ASSERT_TRUE(Call(a, cond, "release").ok());
  EXPECT_TRUE(Call(b, cond, "acquire").ok());
}

TEST_F(DispatcherTest, ConditionWaiterThatDiesLeavesItConsistent) {
  auto a = dispatcher_.OpenSession("a");
  auto b = dispatcher_.OpenSession("b");
  uint64_t cond = Create(a, "condition");
  ASSERT_TRUE(Call(b, cond, "acquire").ok());
  auto waiter = std::async(std::launch::async, [&] {
    return Call(b, cond, "wait", {}, kForever).status();
  });
  ASSERT_TRUE(WaitForWaiters(cond, 1));
  dispatcher_.CloseSession(*b);
  EXPECT_EQ(waiter.get().code(), absl::StatusCode::kCancelled);
  // Nobody holds the lock, and a notify reaches no ghost.
  ASSERT_TRUE(Call(a, cond, "acquire").ok());
  ASSERT_TRUE(Call(a, cond, "notify").ok());
  EXPECT_EQ(Call(a, cond, "wait", {}, absl::Milliseconds(5)).status().code(),
            absl::StatusCode::kDeadlineExceeded);
}

TEST_F(DispatcherTest, BarrierRoundsAbortAndReset) {
  auto s = dispatcher_.OpenSession("s");
  uint64_t barrier = Create(s, "barrier", {Value(3)});
  EXPECT_EQ(Call(s, barrier, "parties")->as_int(), 3);
  for (int round = 0; round < 3; ++round) {
    std::vector<std::future<absl::StatusOr<Value>>> waits;
    for (int t = 0; t < 3; ++t) {
      waits.push_back(std::async(std::launch::async, [&, t] {
        return Call(s, barrier, "wait", {}, absl::Seconds(20), t + 1);
      }));
    }
    std::vector<int64_t> indexes;
    for (auto& w : waits) {
      absl::StatusOr<Value> index = w.get();
      ASSERT_TRUE(index.ok()) << index.status();
      indexes.push_back(index->as_int());
    }
    std::sort(indexes.begin(), indexes.end());
    EXPECT_EQ(indexes, (std::vector<int64_t>{0, 1, 2}));
  }
  auto waiter = std::async(std::launch::async, [&] {
    return Call(s, barrier, "wait", {}, kForever).status();
  });
  ASSERT_TRUE(WaitForWaiters(barrier, 1));
  EXPECT_EQ(Call(s, barrier, "n_waiting")->as_int(), 1);
  ASSERT_TRUE(Call(s, barrier, "abort").ok());
  EXPECT_EQ(waiter.get().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Call(s, barrier, "broken")->as_bool());
  EXPECT_FALSE(Call(s, barrier, "wait", {}, absl::Seconds(1)).ok());
  ASSERT_TRUE(Call(s, barrier, "reset").ok());
  EXPECT_FALSE(Call(s, barrier, "broken")->as_bool());
  // A timeout breaks it, as in Python.
  EXPECT_EQ(Call(s, barrier, "wait", {}, absl::Milliseconds(5)).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(Call(s, barrier, "broken")->as_bool());
}

TEST_F(DispatcherTest, BarrierWaiterWhoseClientDiesWithdraws) {
  auto a = dispatcher_.OpenSession("a");
  auto b = dispatcher_.OpenSession("b");
  uint64_t barrier = Create(a, "barrier", {Value(2)});
  auto waiter = std::async(std::launch::async, [&] {
    return Call(b, barrier, "wait", {}, kForever).status();
  });
  ASSERT_TRUE(WaitForWaiters(barrier, 1));
  dispatcher_.CloseSession(*b);
  EXPECT_EQ(waiter.get().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(Call(a, barrier, "n_waiting")->as_int(), 0);
  EXPECT_FALSE(Call(a, barrier, "broken")->as_bool());
}

TEST_F(DispatcherTest, QueuePutGetMaxsizeAndJoin) {
  auto s = dispatcher_.OpenSession("s");
  uint64_t queue = Create(s, "queue", {Value(2)});
  ASSERT_TRUE(Call(s, queue, "put", {Value(1)}).ok());
  ASSERT_TRUE(Call(s, queue, "put", {Value("two")}).ok());
  EXPECT_TRUE(Call(s, queue, "full")->as_bool());
  EXPECT_EQ(Call(s, queue, "put", {Value(3)}, absl::Milliseconds(5))
                .status()
                .code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(*Call(s, queue, "get"), Value(1));
  EXPECT_EQ(*Call(s, queue, "get"), Value("two"));
  EXPECT_EQ(Call(s, queue, "get", {}, absl::Milliseconds(5)).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(Call(s, queue, "join", {}, absl::Milliseconds(5)).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  ASSERT_TRUE(Call(s, queue, "task_done").ok());
  ASSERT_TRUE(Call(s, queue, "task_done").ok());
  EXPECT_TRUE(Call(s, queue, "join").ok());
  EXPECT_EQ(Call(s, queue, "task_done").status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(DispatcherTest, ListAndDictOperations) {
  auto s = dispatcher_.OpenSession("s");
  uint64_t list = Create(s, "list", {Value(ValueList{Value(0), Value(0)})});
  ASSERT_TRUE(Call(s, list, "set", {Value(0), Value(1)}).ok());
  ASSERT_TRUE(Call(s, list, "append", {Value("x")}).ok());
  ASSERT_TRUE(Call(s, list, "insert", {Value(-1), Value(2.5)}).ok());
  EXPECT_EQ(*Call(s, list, "get_all"),
            Value(ValueList{Value(1), Value(0), Value(2.5), Value("x")}));
  EXPECT_EQ(Call(s, list, "get", {Value(-1)})->as_string(), "x");
  EXPECT_EQ(Call(s, list, "get", {Value(4)}).status().code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_EQ(Call(s, list, "index", {Value(2.5)})->as_int(), 2);
  EXPECT_EQ(*Call(s, list, "pop"), Value("x"));
  EXPECT_EQ(Call(s, list, "len")->as_int(), 3);

  uint64_t dict = Create(s, "dict");
  ASSERT_TRUE(Call(s, dict, "set", {Value("a"), Value(1)}).ok());
  EXPECT_EQ(*Call(s, dict, "get", {Value("a")}), Value(1));
  EXPECT_EQ(Call(s, dict, "get", {Value("b")}).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(*Call(s, dict, "get", {Value("b"), Value(7)}), Value(7));
  EXPECT_EQ(*Call(s, dict, "setdefault", {Value("a"), Value(9)}), Value(1));
  EXPECT_EQ(*Call(s, dict, "keys"), Value(ValueList{Value("a")}));
  EXPECT_EQ(Call(s, dict, "set", {Value(1), Value(1)}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Call(s, dict, "frobnicate").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(DispatcherTest, NestedContainersAreSharedByReference) {
  auto parent = dispatcher_.OpenSession("parent");
  auto child = dispatcher_.OpenSession("child");
  absl::StatusOr<Value> outer = Call(
      parent, 0, "get_or_create",
      {Value("outer"), Value("list"),
       Value(ValueList{Value(0), Value(0), Value(0)})});
  ASSERT_TRUE(outer.ok());
  const uint64_t outer_id = outer->as_ref().object_id;
  // The child makes a nested list, stores it, then mutates it.
  uint64_t nested = Create(child, "list");
  ASSERT_TRUE(Call(child, outer_id, "append",
                   {Value(ObjectRef{nested, "list", nullptr})})
                  .ok());
  for (int v : {99, 98, 97}) {
    ASSERT_TRUE(Call(child, nested, "append", {Value(v)}).ok());
  }
  End(child);  // the nested list lives on: the outer list holds it
  absl::StatusOr<Value> item = Call(parent, outer_id, "get", {Value(3)});
  ASSERT_TRUE(item.ok() && item->is_ref());
  EXPECT_EQ(*Call(parent, item->as_ref().object_id, "get_all"),
            Value(ValueList{Value(99), Value(98), Value(97)}));
  // Dropping it from the outer list and releasing the handle kills it.
  ASSERT_TRUE(Call(parent, outer_id, "pop").ok());
  ASSERT_TRUE(Call(parent, 0, "release", {Value(item->as_ref().object_id)})
                  .ok());  // the handle `get` gave
  ASSERT_TRUE(Call(parent, 0, "release", {Value(item->as_ref().object_id)})
                  .ok());  // the handle `pop` gave
  EXPECT_EQ(dispatcher_.registry().Find(item->as_ref().object_id), nullptr);
}

TEST_F(DispatcherTest, AnonymousObjectsDieWithTheirLastHolder) {
  auto s = dispatcher_.OpenSession("s");
  uint64_t list = Create(s, "list");
  uint64_t named = Call(s, 0, "get_or_create", {Value("keep"), Value("dict")})
                       ->as_ref()
                       .object_id;
  End(s);
  EXPECT_EQ(dispatcher_.registry().Find(list), nullptr);
  EXPECT_NE(dispatcher_.registry().Find(named), nullptr);
  auto t = dispatcher_.OpenSession("t");
  ASSERT_TRUE(Call(t, 0, "delete", {Value("keep")}).ok());
  EXPECT_EQ(dispatcher_.registry().Find(named), nullptr);  // nobody holds it
  EXPECT_EQ(Call(t, 0, "get", {Value("keep")}).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(DispatcherTest, GetOrCreateFindsTheSameObjectAndChecksTheType) {
  auto a = dispatcher_.OpenSession("a");
  auto b = dispatcher_.OpenSession("b");
  auto first = Call(a, 0, "get_or_create", {Value("jobs"), Value("queue")});
  auto second = Call(b, 0, "get_or_create", {Value("jobs"), Value("queue")});
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->as_ref().object_id, second->as_ref().object_id);
  absl::Status wrong =
      Call(b, 0, "get_or_create", {Value("jobs"), Value("lock")}).status();
  EXPECT_EQ(wrong.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(wrong.message(), "queue 'jobs' exists; asked for a lock");
}

TEST_F(DispatcherTest, RejectsBadRequests) {
  auto s = dispatcher_.OpenSession("s");
  EXPECT_EQ(Call(s, 0, "create", {Value("nope")}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Call(s, 12345, "acquire").status().code(),
            absl::StatusCode::kNotFound);
  uint64_t list = Create(s, "list");
  EXPECT_EQ(Call(s, list, "append", {Value(ObjectRef{999, "", nullptr})})
                .status()
                .code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(Call(s, 0, "release", {Value(999)}).status().code(),
            absl::StatusCode::kNotFound);
}

// Collects the replies of parked calls.
class RecordingSink : public ReplySink {
 public:
  void Reply(const proto::Request& request,
             proto::Response& response) override {
    std::lock_guard<std::mutex> lock(mu_);
    replies_.push_back(response);
    cv_.notify_all();
  }
  // Waits for reply number `n` (1-based).
  std::optional<proto::Response> WaitFor(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, std::chrono::seconds(20),
                      [&] { return replies_.size() >= n; })) {
      return std::nullopt;
    }
    return replies_[n - 1];
  }
  size_t size() {
    std::lock_guard<std::mutex> lock(mu_);
    return replies_.size();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<proto::Response> replies_;
};

TEST_F(DispatcherTest, ParkedAcquireIsAnsweredByTheRelease) {
  auto a = dispatcher_.OpenSession("a");
  auto b = dispatcher_.OpenSession("b");
  uint64_t lock = Create(a, "lock");
  ASSERT_TRUE(Call(a, lock, "acquire").ok());
  auto sink = std::make_shared<RecordingSink>();
  proto::Request request =
      MakeRequest(lock, "acquire", {}, kForever, /*thread=*/1);
  request.set_request_id(77);
  proto::Response response;
  ASSERT_EQ(dispatcher_.Execute(b, request, /*may_block=*/false, &response,
                                sink),
            Dispatcher::Outcome::kParked);
  EXPECT_TRUE(WaitForWaiters(lock, 1));
  EXPECT_EQ(sink->size(), 0u);
  ASSERT_TRUE(Call(a, lock, "release").ok());  // answers b's acquire
  std::optional<proto::Response> reply = sink->WaitFor(1);
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->request_id(), 77u);
  EXPECT_TRUE(StatusOf(*reply).ok());
  EXPECT_EQ(Call(a, lock, "acquire", {}, absl::ZeroDuration()).status().code(),
            absl::StatusCode::kDeadlineExceeded);  // b holds it now
  End(b);
  EXPECT_TRUE(Call(a, lock, "acquire").ok());
}

// A client that releases and at once re-acquires (one batch of requests, as
// a connection runs them) does not take the lock again from a waiter that
// has been parked longer than the starvation limit: it queues behind it.
TEST_F(DispatcherTest, LongParkedWaiterIsServedBeforeAReacquire) {
  auto a = dispatcher_.OpenSession("a");
  auto b = dispatcher_.OpenSession("b");
  uint64_t lock = Create(a, "lock");
  ASSERT_TRUE(Call(a, lock, "acquire").ok());
  auto sink_a = std::make_shared<RecordingSink>();
  auto sink_b = std::make_shared<RecordingSink>();
  proto::Request b_acquire = MakeRequest(lock, "acquire", {}, kForever, 1);
  b_acquire.set_request_id(77);
  proto::Response response;
  ASSERT_EQ(dispatcher_.Execute(b, b_acquire, false, &response, sink_b),
            Dispatcher::Outcome::kParked);
  // Past the limit (a lower bound: waiting longer changes nothing).
  const absl::Time parked = ::syncstream::Now();
  while (::syncstream::Now() - parked <= 2 * kStarvationLimit) {
    absl::SleepFor(kStarvationLimit);
  }
  std::vector<std::shared_ptr<ManagedObject>> kicks;
  proto::Request release = MakeRequest(lock, "release", {}, kForever, 1);
  proto::Request reacquire = MakeRequest(lock, "acquire", {}, kForever, 1);
  reacquire.set_request_id(78);
  ASSERT_EQ(dispatcher_.Execute(a, release, false, &response, sink_a, &kicks),
            Dispatcher::Outcome::kDone);
  EXPECT_TRUE(StatusOf(response).ok());
  EXPECT_EQ(
      dispatcher_.Execute(a, reacquire, false, &response, sink_a, &kicks),
      Dispatcher::Outcome::kParked);
  dispatcher_.Kick(&kicks);  // the end of a's batch
  std::optional<proto::Response> reply = sink_b->WaitFor(1);
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->request_id(), 77u);
  EXPECT_TRUE(StatusOf(*reply).ok());
  EXPECT_EQ(sink_a->size(), 0u);  // a waits for b now
  End(b);                         // b's lock goes to a's parked acquire
  reply = sink_a->WaitFor(1);
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->request_id(), 78u);
  EXPECT_TRUE(StatusOf(*reply).ok());
}

TEST_F(DispatcherTest, ParkedCallTimesOutAndDeadClientsParkedCallsGo) {
  auto a = dispatcher_.OpenSession("a");
  auto b = dispatcher_.OpenSession("b");
  uint64_t queue = Create(a, "queue");
  auto sink = std::make_shared<RecordingSink>();
  proto::Response response;
  proto::Request timed =
      MakeRequest(queue, "get", {}, absl::Milliseconds(20), 1);
  timed.set_request_id(5);
  ASSERT_EQ(dispatcher_.Execute(b, timed, false, &response, sink),
            Dispatcher::Outcome::kParked);
  std::optional<proto::Response> reply = sink->WaitFor(1);
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->request_id(), 5u);
  EXPECT_EQ(StatusOf(*reply).code(), absl::StatusCode::kDeadlineExceeded);
  // A parked get of a client that dies does not take the next item.
  proto::Request forever = MakeRequest(queue, "get", {}, kForever, 1);
  forever.set_request_id(6);
  ASSERT_EQ(dispatcher_.Execute(b, forever, false, &response, sink),
            Dispatcher::Outcome::kParked);
  End(b);
  ASSERT_TRUE(Call(a, queue, "put", {Value("item")}).ok());
  EXPECT_EQ(*Call(a, queue, "get"), Value("item"));
  EXPECT_EQ(sink->size(), 1u);
}

TEST_F(DispatcherTest, EventSetAnswersEveryParkedWaiter) {
  auto s = dispatcher_.OpenSession("s");
  uint64_t event = Create(s, "event");
  auto sink = std::make_shared<RecordingSink>();
  proto::Response response;
  for (int i = 1; i <= 3; ++i) {
    proto::Request wait = MakeRequest(event, "wait", {}, kForever, i);
    wait.set_request_id(i);
    ASSERT_EQ(dispatcher_.Execute(s, wait, false, &response, sink),
              Dispatcher::Outcome::kParked);
  }
  ASSERT_TRUE(Call(s, event, "set").ok());
  ASSERT_TRUE(sink->WaitFor(3).has_value());
}

struct Counter {
  int64_t n = 0;
};

TEST_F(DispatcherTest, UserTypes) {
  UserType<Counter> counter("counter");
  counter
      .Factory([](const std::vector<Value>& args)
                   -> absl::StatusOr<std::unique_ptr<Counter>> {
        auto c = std::make_unique<Counter>();
        if (!args.empty()) c->n = args[0].as_int();
        return c;
      })
      .Method("add", [](Counter& c, const UserCall& call)
                         -> absl::StatusOr<Value> {
        absl::StatusOr<int64_t> by = call.args.at(0).GetInt("by");
        if (!by.ok()) return by.status();
        return Value(c.n += *by);
      });
  ASSERT_TRUE(dispatcher_.RegisterType(counter.definition()).ok());
  EXPECT_EQ(dispatcher_.RegisterType(counter.definition()).code(),
            absl::StatusCode::kAlreadyExists);
  auto s = dispatcher_.OpenSession("s");
  uint64_t c = Create(s, "counter", {Value(10)});
  EXPECT_EQ(*Call(s, c, "add", {Value(5)}), Value(15));
  EXPECT_EQ(Call(s, c, "sub", {Value(5)}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(*Call(s, 0, "types"), Value(ValueList{Value("counter")}));
}

// The listing comes in pages bounded in bytes, asked for after the last id
// seen, so that no reply outgrows a frame.
TEST_F(DispatcherTest, ObjectsAreListedInPagesBoundedInBytes) {
  auto a = dispatcher_.OpenSession("a");
  constexpr int kObjects = 300;
  for (int i = 0; i < kObjects; ++i) {
    ASSERT_TRUE(Call(a, 0, "get_or_create",
                     {Value(absl::StrCat("object-", i)), Value("lock")})
                    .ok());
  }
  int64_t after = 0;
  int listed = 0;
  int pages = 0;
  for (;;) {
    absl::StatusOr<Value> page = Call(a, 0, "objects", {Value(after), Value(2000)});
    ASSERT_TRUE(page.ok()) << page.status();
    proto::Value encoded;
    ToProto(*page, &encoded);
    EXPECT_LE(encoded.ByteSizeLong(), 2100u);
    ++pages;
    for (const Value& o : page->as_dict().at("objects").as_list()) {
      const int64_t id = o.as_dict().at("id").as_int();
      EXPECT_GT(id, after);
      after = id;
      ++listed;
    }
    if (!page->as_dict().at("more").as_bool()) break;
  }
  EXPECT_EQ(listed, kObjects);
  EXPECT_GT(pages, 10);
}

TEST_F(DispatcherTest, ObjectsListsHoldersAndWaiters) {
  auto a = dispatcher_.OpenSession("a");
  auto b = dispatcher_.OpenSession("b");
  uint64_t lock =
      Call(a, 0, "get_or_create", {Value("L"), Value("lock")})->as_ref().object_id;
  ASSERT_TRUE(Call(a, lock, "acquire", {}, {}, 7).ok());
  auto blocked = std::async(std::launch::async, [&] {
    return Call(b, lock, "acquire", {}, absl::Seconds(20)).status();
  });
  ASSERT_TRUE(WaitForWaiters(lock, 1));
  absl::StatusOr<Value> page = Call(a, 0, "objects");
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->as_dict().at("more"), Value(false));
  const Value& objects = page->as_dict().at("objects");
  ASSERT_EQ(objects.as_list().size(), 1u);
  const ValueDict& entry = objects.as_list()[0].as_dict();
  EXPECT_EQ(entry.at("name"), Value("L"));
  EXPECT_EQ(entry.at("type"), Value("lock"));
  EXPECT_EQ(entry.at("waiters"), Value(1));
  EXPECT_EQ(entry.at("holders"),
            Value(ValueList{Value(absl::StrCat("client ", a->id(), " thread 7"))}));
  ASSERT_TRUE(Call(a, lock, "release").ok());
  EXPECT_TRUE(blocked.get().ok());
}

}  // namespace
}  // namespace syncstream::manager::internal
