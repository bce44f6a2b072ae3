#include "syncstream/nats/jetstream_stream.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "syncstream/core/status_macros.h"
#include "syncstream/nats/internal/client.h"
#include "syncstream/nats/internal/stream_info.h"

namespace syncstream::nats {
namespace internal {
namespace {

JetStreamStreamInfo ToInfo(const jsStreamInfo& si) {
  JetStreamStreamInfo info;
  if (si.Config != nullptr) {
    const jsStreamConfig& c = *si.Config;
    if (c.Name != nullptr) info.name = c.Name;
    if (c.SubjectsLen == 1 && c.Subjects[0] != nullptr) {
      info.subjects = c.Subjects[0];
    } else {
      std::vector<std::string> subjects;
      for (int i = 0; i < c.SubjectsLen; ++i) {
        if (c.Subjects[i] != nullptr) subjects.push_back(c.Subjects[i]);
      }
      info.subjects = absl::StrJoin(subjects, ",");
    }
    info.max_lines = c.MaxMsgs > 0 ? static_cast<uint64_t>(c.MaxMsgs) : 0;
    info.replicas = static_cast<int>(c.Replicas);
    info.max_age = absl::Nanoseconds(c.MaxAge);
    info.max_bytes = c.MaxBytes;
    info.duplicate_window = absl::Nanoseconds(c.Duplicates);
  }
  info.messages = si.State.Msgs;
  info.bytes = si.State.Bytes;
  info.first_sequence = si.State.FirstSeq;
  info.last_sequence = si.State.LastSeq;
  if (si.Cluster != nullptr) {
    if (si.Cluster->Leader != nullptr) info.leader = si.Cluster->Leader;
    for (int i = 0; i < si.Cluster->ReplicasLen; ++i) {
      const jsPeerInfo* peer = si.Cluster->Replicas[i];
      if (peer != nullptr && peer->Current && peer->Name != nullptr) {
        info.replicas_current.push_back(peer->Name);
      }
    }
  }
  return info;
}

}  // namespace

absl::StatusOr<JetStreamStreamInfo> LookUpStream(Client& client) {
  jsStreamInfo* si = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&si, client.js(),
                                  client.address().stream.c_str(), nullptr,
                                  &code);
  if (s != NATS_OK) {
    absl::Status status = FromJetStream(
        s, code, absl::StrCat(client.name(), ": stream info"));
    if (status.code() == absl::StatusCode::kNotFound) {
      return StreamMissing(client.address());
    }
    return status;
  }
  JetStreamStreamInfo info = ToInfo(*si);
  jsStreamInfo_Destroy(si);
  if (info.subjects != client.address().StreamSubjects()) {
    return absl::FailedPreconditionError(absl::StrCat(
        client.name(), ": the stream takes the subjects '", info.subjects,
        "', not '", client.address().StreamSubjects(),
        "' (not made by syncstream stream create?)"));
  }
  return info;
}

}  // namespace internal

std::string JetStreamStreamInfo::ToString() const {
  std::string text = absl::StrCat(
      "stream: ", name, "\nsubjects: ", subjects, "\nmax lines: ", max_lines,
      "\nreplicas: ", replicas, "\nmax age: ",
      max_age == absl::ZeroDuration() ? "unlimited"
                                      : absl::FormatDuration(max_age),
      "\nmax bytes: ",
      max_bytes < 0 ? std::string("unlimited") : absl::StrCat(max_bytes),
      "\nduplicate window: ", absl::FormatDuration(duplicate_window),
      "\nbatches: ", messages, "\nbytes: ", bytes,
      "\nsequences: ", first_sequence, "-", last_sequence, "\n");
  if (!leader.empty()) {
    absl::StrAppend(&text, "leader: ", leader, "\ncurrent replicas: ",
                    absl::StrJoin(replicas_current, ","), "\n");
  }
  return text;
}

absl::StatusOr<JetStreamStreamInfo> CreateJetStreamStream(
    const JetStreamAddress& address, const JetStreamCredentials& credentials,
    const JetStreamStreamSettings& settings, absl::Duration timeout) {
  const std::string name = address.ToString();
  if (settings.max_lines == 0 ||
      settings.max_lines > static_cast<uint64_t>(INT64_MAX)) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": --max-lines must be at least 1"));
  }
  if (settings.replicas < 1 || settings.replicas > 5) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, ": replicas must be 1 to 5, not ", settings.replicas));
  }
  if (settings.max_age < absl::ZeroDuration() ||
      settings.duplicate_window <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, ": max age must not be negative, the duplicate window positive"));
  }
  SYNCSTREAM_ASSIGN_OR_RETURN(std::unique_ptr<internal::Client> client,
                              internal::Client::Connect(address, credentials,
                                                        timeout, "syncstream stream create"));
  const std::string subjects = address.StreamSubjects();
  const char* subject_list[] = {subjects.c_str()};
  jsStreamConfig config;
  jsStreamConfig_Init(&config);
  config.Name = address.stream.c_str();
  config.Description = "syncstream lines (syncstream stream create)";
  config.Subjects = subject_list;
  config.SubjectsLen = 1;
  config.Storage = js_FileStorage;
  config.Retention = js_LimitsPolicy;
  config.Discard = js_DiscardOld;
  config.MaxMsgs = static_cast<int64_t>(settings.max_lines);
  config.MaxBytes = settings.max_bytes;
  config.MaxAge = absl::ToInt64Nanoseconds(settings.max_age);
  config.Duplicates = absl::ToInt64Nanoseconds(settings.duplicate_window);
  config.Replicas = settings.replicas;
  config.AllowDirect = true;
  jsStreamInfo* si = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_AddStream(&si, client->js(), &config, nullptr, &code);
  if (s != NATS_OK) {
    return internal::FromJetStream(s, code,
                                   absl::StrCat(name, ": creating the stream"));
  }
  jsStreamInfo_Destroy(si);
  return internal::LookUpStream(*client);
}

absl::StatusOr<JetStreamStreamInfo> GetJetStreamStreamInfo(
    const JetStreamAddress& address, const JetStreamCredentials& credentials,
    absl::Duration timeout) {
  SYNCSTREAM_ASSIGN_OR_RETURN(std::unique_ptr<internal::Client> client,
                              internal::Client::Connect(address, credentials,
                                                        timeout, "syncstream stream info"));
  return internal::LookUpStream(*client);
}

absl::Status DeleteJetStreamStream(const JetStreamAddress& address,
                                   const JetStreamCredentials& credentials,
                                   absl::Duration timeout) {
  SYNCSTREAM_ASSIGN_OR_RETURN(std::unique_ptr<internal::Client> client,
                              internal::Client::Connect(address, credentials,
                                                        timeout, "syncstream stream rm"));
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_DeleteStream(client->js(), address.stream.c_str(),
                                 nullptr, &code);
  return internal::FromJetStream(
      s, code, absl::StrCat(address.ToString(), ": deleting the stream"));
}

}  // namespace syncstream::nats
