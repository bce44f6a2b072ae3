#include "syncstream/manager/internal/dispatcher.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "syncstream/core/deadline.h"
#include "syncstream/manager/internal/builtin_types.h"
#include "syncstream/manager/internal/user_object.h"
#include "syncstream/manager/method_names.h"

namespace syncstream::manager::internal {

void SetStatus(const absl::Status& status, proto::Response* response) {
  response->set_code(static_cast<int32_t>(status.code()));
  response->set_error(std::string(status.message()));
}

absl::Status StatusOf(const proto::Response& response) {
  if (response.code() == 0) return absl::OkStatus();
  absl::StatusCode code = static_cast<absl::StatusCode>(response.code());
  if (response.code() < 0 || response.code() > 16) {
    code = absl::StatusCode::kUnknown;
  }
  return absl::Status(code, response.error());
}

Dispatcher::~Dispatcher() { registry_.Clear(); }

absl::Status Dispatcher::RegisterType(const UserTypeDefinition& type) {
  if (type.name.empty() || IsBuiltinType(type.name)) {
    return absl::AlreadyExistsError(absl::StrCat(
        "cannot register type '", type.name, "': reserved name"));
  }
  std::lock_guard<std::mutex> lock(types_mu_);
  if (!types_.emplace(type.name, std::make_shared<UserTypeDefinition>(type))
           .second) {
    return absl::AlreadyExistsError(
        absl::StrCat("type '", type.name, "' is already registered"));
  }
  return absl::OkStatus();
}

std::shared_ptr<Session> Dispatcher::OpenSession(std::string peer) {
  return std::make_shared<Session>(next_session_.fetch_add(1),
                                   std::move(peer));
}

void Dispatcher::CloseSession(Session& session) {
  session.Close();
  std::vector<Registry::Entry> objects = registry_.Snapshot();
  for (const Registry::Entry& entry : objects) {
    entry.object->ReleaseSession(session.id());
    for (const auto& call : entry.object->RemoveParkedOf(session.id(), 0)) {
      timer_.Remove(call.get());  // no one to answer
    }
  }
  // What it held may now go to parked calls of other clients.
  for (const Registry::Entry& entry : objects) {
    if (entry.object->has_parked()) Kick(entry.object);
  }
  // Objects no longer in the registry that a call still waits on.
  for (const auto& object : session.CallObjects()) {
    object->ReleaseSession(session.id());
  }
}

void Dispatcher::EndSession(Session& session) {
  for (uint64_t id : session.TakeAllHandles()) registry_.Unref(id);
}

absl::Status Dispatcher::ResolveRefs(Value& value) {
  switch (value.kind()) {
    case ValueKind::kRef: {
      std::shared_ptr<ManagedObject> object =
          registry_.Find(value.as_ref().object_id);
      if (object == nullptr) {
        return absl::NotFoundError(absl::StrCat(
            "reference to object #", value.as_ref().object_id,
            ", which does not exist"));
      }
      if (!value.as_ref().type.empty() &&
          value.as_ref().type != object->type()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "reference to ", value.as_ref().type, " #",
            value.as_ref().object_id, ", which is a ", object->type()));
      }
      value = Value(ObjectRef{value.as_ref().object_id, object->type(), nullptr});
      return absl::OkStatus();
    }
    case ValueKind::kList:
      for (Value& item : value.as_list()) {
        if (absl::Status s = ResolveRefs(item); !s.ok()) return s;
      }
      return absl::OkStatus();
    case ValueKind::kDict:
      for (auto& [key, item] : value.as_dict()) {
        if (absl::Status s = ResolveRefs(item); !s.ok()) return s;
      }
      return absl::OkStatus();
    default:
      return absl::OkStatus();
  }
}

Dispatcher::Outcome Dispatcher::Execute(
    const std::shared_ptr<Session>& session, const proto::Request& request,
    bool may_block, proto::Response* response,
    const std::shared_ptr<ReplySink>& sink,
    std::vector<std::shared_ptr<ManagedObject>>* deferred_kicks) {
  const absl::Time deadline =
      request.timeout_us() < 0
          ? absl::InfiniteFuture()
          : DeadlineAfter(absl::Microseconds(request.timeout_us()));
  CallContext::ParkRequest park;
  park.session = &session;
  park.request = &request;
  park.sink = &sink;
  std::shared_ptr<ManagedObject> object;
  Outcome outcome =
      Run(session, request, deadline, may_block,
          (!may_block && sink != nullptr) ? &park : nullptr, response, &object);
  if (outcome == Outcome::kDone && object != nullptr && object->has_parked()) {
    if (deferred_kicks == nullptr) {
      Kick(object);
    } else if (std::find(deferred_kicks->begin(), deferred_kicks->end(),
                         object) == deferred_kicks->end()) {
      deferred_kicks->push_back(std::move(object));
    }
  }
  return outcome;
}

void Dispatcher::Kick(std::vector<std::shared_ptr<ManagedObject>>* objects) {
  for (const std::shared_ptr<ManagedObject>& object : *objects) {
    if (object->has_parked()) Kick(object);
  }
  objects->clear();
}

void Dispatcher::Kick(const std::shared_ptr<ManagedObject>& object) {
  // Rounds: a call that completes may let more parked calls through (a
  // semaphore released by several); stop when a round makes no progress.
  // Within a round, once a method had to park again, later calls of the same
  // method would too (their conditions are the same: the lock is taken, the
  // queue empty) and are parked again untried.
  for (int round = 0; round < 64 && object->has_parked(); ++round) {
    bool progress = false;
    std::vector<std::string> still_blocked;
    for (std::shared_ptr<ParkedCall>& call : object->TakeParked()) {
      if (std::find(still_blocked.begin(), still_blocked.end(),
                    call->request.method()) != still_blocked.end()) {
        object->ParkAgain(std::move(call));
        continue;
      }
      CallContext::ParkRequest park;
      park.existing = call;
      proto::Response response;
      Outcome outcome = Run(call->session, call->request, call->deadline,
                            /*may_block=*/false, &park, &response, nullptr);
      if (outcome == Outcome::kParked) {
        still_blocked.push_back(call->request.method());
        // If the deadline passed while it was being retried, the timer may
        // have missed it.
        if (::syncstream::Now() >= call->deadline) Expire(call);
        continue;
      }
      progress = true;
      timer_.Remove(call.get());
      if (outcome == Outcome::kNeedsThread) {  // not parkable after all
        SetStatus(absl::InternalError("parked call cannot be retried"),
                  &response);
      }
      if (!call->session->closed()) call->sink->Reply(call->request, response);
    }
    if (!progress) break;
  }
}

void Dispatcher::Expire(const std::shared_ptr<ParkedCall>& call) {
  std::shared_ptr<ManagedObject> object = call->object.lock();
  if (object == nullptr || !object->RemoveParked(call.get())) return;
  timer_.Remove(call.get());
  proto::Response response;
  response.set_request_id(call->request.request_id());
  SetStatus(absl::DeadlineExceededError(absl::StrCat(
                object->label(), ": ", call->request.method(), " timed out")),
            &response);
  call->sink->Reply(call->request, response);
}

Dispatcher::Outcome Dispatcher::Run(
    const std::shared_ptr<Session>& session_ptr,
    const proto::Request& request, absl::Time deadline, bool may_block,
    const CallContext::ParkRequest* park, proto::Response* response,
    std::shared_ptr<ManagedObject>* object_used) {
  Session& session = *session_ptr;
  response->Clear();
  response->set_request_id(request.request_id());

  std::vector<Value> args;
  args.reserve(request.args_size());
  for (const proto::Value& arg : request.args()) {
    absl::StatusOr<Value> value = FromProto(arg);
    if (value.ok()) {
      absl::Status resolved = ResolveRefs(*value);
      if (!resolved.ok()) value = resolved;
    }
    if (!value.ok()) {
      SetStatus(absl::Status(value.status().code(),
                             absl::StrCat(request.method(), " argument ",
                                          args.size() + 1, ": ",
                                          value.status().message())),
                response);
      return Outcome::kDone;
    }
    args.push_back(*std::move(value));
  }

  CallContext ctx;
  ctx.session = &session;
  ctx.thread_id = request.thread_id();
  ctx.deadline = deadline;
  ctx.may_block = may_block;
  ctx.references = &registry_;
  ctx.park = park;

  absl::StatusOr<Value> result;
  if (request.object_id() == 0) {
    result = CallManager(ctx, request, args);
  } else {
    std::shared_ptr<ManagedObject> object =
        session.FindHandle(request.object_id());
    if (object == nullptr) object = registry_.Find(request.object_id());
    if (object == nullptr) {
      result = absl::NotFoundError(absl::StrCat(
          "object #", request.object_id(), " does not exist (deleted?)"));
    } else if (may_block) {
      std::atomic<bool> cancelled{false};
      ctx.call_cancelled = &cancelled;
      session.BeginCall(request.request_id(), object, &cancelled);
      result = object->Call(ctx, request.method(), args);
      session.EndCall(request.request_id());
    } else {
      result = object->Call(ctx, request.method(), args);
    }
    if (object_used != nullptr) *object_used = std::move(object);
  }

  Outcome outcome = Outcome::kDone;
  if (ctx.parked != nullptr) {
    outcome = Outcome::kParked;
    if (park->existing == nullptr) timer_.Add(ctx.parked);
  } else if (ctx.would_block) {
    outcome = Outcome::kNeedsThread;
  } else if (result.ok()) {
    // The reply's references become handles of the client.
    absl::Status held;
    ForEachRef(*result, [&](const ObjectRef& ref) {
      if (!held.ok()) return;
      held = registry_.Ref(ref.object_id);
      if (held.ok()) {
        session.AddHandle(ref.object_id, registry_.Find(ref.object_id));
      }
    });
    if (held.ok()) {
      ToProto(*result, response->mutable_result());
    } else {
      SetStatus(held, response);
    }
  } else {
    SetStatus(result.status(), response);
  }
  for (const Value& v : ctx.dropped) registry_.UnrefAll(v);
  return outcome;
}

absl::StatusOr<std::shared_ptr<ManagedObject>> Dispatcher::Create(
    absl::string_view type, std::vector<Value> args) {
  if (IsBuiltinType(type)) {
    return CreateBuiltin(type, std::move(args), &registry_);
  }
  std::shared_ptr<const UserTypeDefinition> definition;
  {
    std::lock_guard<std::mutex> lock(types_mu_);
    auto it = types_.find(type);
    if (it != types_.end()) definition = it->second;
  }
  if (definition == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "no type '", absl::CEscape(type), "' (neither built in nor registered)"));
  }
  return NewUserObject(std::move(definition), args);
}

namespace {

absl::StatusOr<std::string> StringArg(const std::vector<Value>& args, size_t i,
                                      absl::string_view method,
                                      absl::string_view what) {
  if (args.size() <= i) {
    return absl::InvalidArgumentError(
        absl::StrCat("manager: ", method, " needs ", what));
  }
  return args[i].GetString(absl::StrCat("manager: ", method, " ", what));
}

absl::StatusOr<uint64_t> IdArg(const std::vector<Value>& args,
                               absl::string_view method) {
  if (args.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("manager: ", method, " needs an object id"));
  }
  absl::StatusOr<int64_t> id =
      args[0].GetInt(absl::StrCat("manager: ", method, " object id"));
  if (!id.ok()) return id.status();
  return static_cast<uint64_t>(*id);
}

}  // namespace

absl::StatusOr<Value> Dispatcher::CallManager(CallContext& ctx,
                                              const proto::Request& request,
                                              std::vector<Value>& args) {
  const std::string& method = request.method();
  Session& session = *ctx.session;
  if (method == methods::kPing) return Value();
  if (method == methods::kCreate) {
    absl::StatusOr<std::string> type = StringArg(args, 0, method, "a type");
    if (!type.ok()) return type.status();
    std::vector<Value> rest(std::make_move_iterator(args.begin() + 1),
                            std::make_move_iterator(args.end()));
    absl::StatusOr<std::shared_ptr<ManagedObject>> object =
        Create(*type, std::move(rest));
    if (!object.ok()) return object.status();
    const uint64_t id = registry_.Add(*object);
    return Value(ObjectRef{id, (*object)->type(), nullptr});
  }
  if (method == methods::kGetOrCreate) {
    absl::StatusOr<std::string> name = StringArg(args, 0, method, "a name");
    if (!name.ok()) return name.status();
    absl::StatusOr<std::string> type = StringArg(args, 1, method, "a type");
    if (!type.ok()) return type.status();
    std::vector<Value> rest(std::make_move_iterator(args.begin() + 2),
                            std::make_move_iterator(args.end()));
    absl::StatusOr<uint64_t> id =
        registry_.GetOrCreate(*name, *type, [&] { return Create(*type, rest); });
    if (!id.ok()) return id.status();
    return Value(ObjectRef{*id, *type, nullptr});
  }
  if (method == methods::kGet) {
    absl::StatusOr<std::string> name = StringArg(args, 0, method, "a name");
    if (!name.ok()) return name.status();
    absl::StatusOr<uint64_t> id = registry_.FindName(*name);
    if (!id.ok()) return id.status();
    std::shared_ptr<ManagedObject> object = registry_.Find(*id);
    if (object == nullptr) return absl::NotFoundError("object vanished");
    return Value(ObjectRef{*id, object->type(), nullptr});
  }
  if (method == methods::kAttach) {
    absl::StatusOr<uint64_t> id = IdArg(args, method);
    if (!id.ok()) return id.status();
    std::shared_ptr<ManagedObject> object = registry_.Find(*id);
    if (object == nullptr) {
      return absl::NotFoundError(absl::StrCat("no object #", *id));
    }
    return Value(ObjectRef{*id, object->type(), nullptr});
  }
  if (method == methods::kRelease) {
    absl::StatusOr<uint64_t> id = IdArg(args, method);
    if (!id.ok()) return id.status();
    if (!session.DropHandle(*id)) {
      return absl::NotFoundError(
          absl::StrCat("manager: release of object #", *id,
                       ", which this client does not hold"));
    }
    registry_.Unref(*id);
    return Value();
  }
  if (method == methods::kDelete) {
    absl::StatusOr<std::string> name = StringArg(args, 0, method, "a name");
    if (!name.ok()) return name.status();
    absl::Status s = registry_.DeleteName(*name);
    if (!s.ok()) return s;
    return Value();
  }
  if (method == methods::kCancel) {
    absl::StatusOr<uint64_t> id = IdArg(args, method);
    if (!id.ok()) return id.status();
    if (std::shared_ptr<ManagedObject> object = session.CancelCall(*id)) {
      object->WakeAll();
    }
    for (const Registry::Entry& entry : registry_.Snapshot()) {
      if (entry.object->has_parked()) {
        for (const auto& call : entry.object->RemoveParkedOf(session.id(), *id)) {
          timer_.Remove(call.get());
        }
      }
    }
    return Value();
  }
  if (method == methods::kTypes) {
    ValueList names;
    std::lock_guard<std::mutex> lock(types_mu_);
    for (const auto& [name, type] : types_) names.emplace_back(name);
    return Value(std::move(names));
  }
  if (method == methods::kObjects) return Objects(args);
  return absl::InvalidArgumentError(
      absl::StrCat("manager: no method '", absl::CEscape(method), "'"));
}

// The listing comes in pages, so that no reply outgrows a frame however
// many objects the manager holds (one reply with 200,000 objects exceeded
// 16 MiB and lost the connection). A page holds the objects after AFTER_ID
// (by id) up to MAX_BYTES encoded (kObjectsPageBytes when absent or larger;
// at least one object), as {"objects": [...], "more": bool}. A client lists
// everything by asking again after the last id it got while "more" is true;
// objects made or dropped meanwhile may or may not be listed.
namespace {
constexpr int64_t kObjectsPageBytes = int64_t{1} << 20;
constexpr size_t kObjectsPageEntries = 4096;
}  // namespace

absl::StatusOr<Value> Dispatcher::Objects(const std::vector<Value>& args) {
  uint64_t after_id = 0;
  int64_t max_bytes = kObjectsPageBytes;
  if (!args.empty()) {
    absl::StatusOr<int64_t> after = args[0].GetInt("manager: objects after-id");
    if (!after.ok()) return after.status();
    after_id = static_cast<uint64_t>(*after);
  }
  if (args.size() > 1) {
    absl::StatusOr<int64_t> bytes = args[1].GetInt("manager: objects max-bytes");
    if (!bytes.ok()) return bytes.status();
    max_bytes = std::clamp<int64_t>(*bytes, 1, kObjectsPageBytes);
  }
  const std::vector<Registry::Entry> entries =
      registry_.Page(after_id, kObjectsPageEntries + 1);
  ValueList out;
  int64_t bytes = 0;
  size_t taken = 0;
  for (; taken < entries.size() && taken < kObjectsPageEntries; ++taken) {
    const Registry::Entry& entry = entries[taken];
    ObjectInfo info = entry.object->Describe();
    ValueList holders(info.holders.begin(), info.holders.end());
    Value item(ValueDict{
        {"id", Value(static_cast<int64_t>(entry.id))},
        {"type", Value(entry.object->type())},
        {"name", Value(entry.name)},
        {"references", Value(entry.references)},
        {"holders", Value(std::move(holders))},
        {"waiters", Value(info.waiters)},
        {"state", Value(info.state)},
    });
    proto::Value encoded;
    ToProto(item, &encoded);
    // A list element costs its bytes plus a tag and a length (<= 16).
    const int64_t size = static_cast<int64_t>(encoded.ByteSizeLong()) + 16;
    if (taken > 0 && bytes + size > max_bytes) break;
    bytes += size;
    out.push_back(std::move(item));
  }
  return Value(ValueDict{{"objects", Value(std::move(out))},
                         {"more", Value(taken < entries.size())}});
}

}  // namespace syncstream::manager::internal
