#include "testing/stress/report.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace syncstream::stress {
namespace {

std::string Rate(double per_second) {
  if (per_second >= 1e6) return absl::StrFormat("%.2fM", per_second / 1e6);
  if (per_second >= 1e3) return absl::StrFormat("%.1fk", per_second / 1e3);
  return absl::StrFormat("%.0f", per_second);
}

std::string JsonString(absl::string_view text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c >= 0x7f) {
          absl::StrAppendFormat(&out, "\\u%04x", c);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out += "\"";
  return out;
}

std::string JsonList(const std::vector<std::string>& items) {
  std::vector<std::string> quoted;
  for (const std::string& item : items) quoted.push_back(JsonString(item));
  return absl::StrCat("[", absl::StrJoin(quoted, ", "), "]");
}

}  // namespace

std::string FormatTable(const std::vector<RunReport>& reports) {
  const std::vector<std::string> header = {
      "kind", "mode", "workers", "killed", "sent", "received", "lost",
      "dup", "garbled", "glued", "out-of-order", "lines/s", "result"};
  std::vector<std::vector<std::string>> rows = {header};
  for (const RunReport& r : reports) {
    const CheckCounts& c = r.check.counts;
    rows.push_back({r.kind, std::string(SpawnModeName(r.mode)),
                    absl::StrCat(r.workers), absl::StrCat(r.killed),
                    absl::StrCat(c.expected), absl::StrCat(c.received),
                    absl::StrCat(c.lost), absl::StrCat(c.duplicated),
                    absl::StrCat(c.garbled), absl::StrCat(c.glued),
                    absl::StrCat(c.out_of_order), Rate(r.lines_per_second),
                    r.ok() ? "ok" : "FAIL"});
  }
  std::vector<size_t> width(header.size(), 0);
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) {
      width[i] = std::max(width[i], row[i].size());
    }
  }
  std::string out;
  for (size_t r = 0; r < rows.size(); ++r) {
    for (size_t i = 0; i < rows[r].size(); ++i) {
      // Text columns left-aligned, numbers right-aligned.
      const bool left = i < 2 || i + 1 == rows[r].size();
      absl::StrAppend(&out, i > 0 ? "  " : "",
                      left ? absl::StrFormat("%-*s", width[i], rows[r][i])
                           : absl::StrFormat("%*s", width[i], rows[r][i]));
    }
    absl::StrAppend(&out, "\n");
  }
  for (const RunReport& r : reports) {
    if (r.ok()) continue;
    absl::StrAppend(&out, "\n", r.kind, "/", SpawnModeName(r.mode),
                    " failed:\n");
    for (const std::string& e : r.errors) absl::StrAppend(&out, "  ", e, "\n");
    for (const std::string& p : r.check.problems) {
      absl::StrAppend(&out, "  ", p, "\n");
    }
  }
  return out;
}

std::string FormatJson(const std::vector<RunReport>& reports) {
  bool all_ok = true;
  std::vector<std::string> runs;
  for (const RunReport& r : reports) {
    all_ok = all_ok && r.ok();
    const CheckCounts& c = r.check.counts;
    runs.push_back(absl::StrCat(
        "{\"kind\": ", JsonString(r.kind),
        ", \"mode\": ", JsonString(SpawnModeName(r.mode)),
        ", \"workers\": ", r.workers, ", \"killed\": ", r.killed,
        ", \"seed\": ", r.seed, ", \"sent\": ", c.expected,
        ", \"received\": ", c.received, ", \"valid\": ", c.valid,
        ", \"lost\": ", c.lost, ", \"duplicated\": ", c.duplicated,
        ", \"garbled\": ", c.garbled, ", \"glued\": ", c.glued,
        ", \"out_of_order\": ", c.out_of_order,
        ", \"truncated\": ", c.truncated,
        ", \"elapsed_seconds\": ",
        absl::StrFormat("%.3f", absl::ToDoubleSeconds(r.elapsed)),
        ", \"lines_per_second\": ",
        absl::StrFormat("%.0f", r.lines_per_second),
        ", \"result\": ", JsonString(r.ok() ? "ok" : "fail"),
        ", \"problems\": ", JsonList(r.check.problems),
        ", \"errors\": ", JsonList(r.errors), "}"));
  }
  return absl::StrCat("{\"ok\": ", all_ok ? "true" : "false",
                      ", \"runs\": [\n  ", absl::StrJoin(runs, ",\n  "),
                      "\n]}\n");
}

}  // namespace syncstream::stress
