// extract_examples: turns the C++ code blocks of Markdown files into one
// translation unit, so that a test compiles (and runs) every example the
// documentation shows.
//
//   extract_examples OUT.cc FILE.md...
//
// Every fenced block whose info string is cpp, c++, cc or cxx is an example.
// Each must be a whole translation unit as a reader would paste it: its
// #include lines, then declarations. In OUT.cc, the #include lines of every
// block are gathered at the top, and each block goes into a namespace of its
// own (doc_example_N) with #line directives, so that a compiler error names
// the Markdown file and line. A block that defines `int main` is a whole
// program: OUT.cc's own main() runs each of them in a child process, in
// document order, and fails if one exits non-zero, is killed, or runs longer
// than a minute.
//
// It also checks the links between the given files: a relative link to one
// of them (or to a Markdown file under docs/) must name a file that exists,
// and its #anchor a heading of that file (GitHub's anchor rules).
//
// Exits 1 (naming the file and line) for an unterminated fence, a C++ block
// without any code, or a broken link.
#include <cctype>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct Block {
  std::string file;
  int first_line = 0;  // line number of the block's first code line
  std::vector<std::string> lines;
};

struct Link {
  std::string file;
  int line = 0;
  std::string target;
};

// Headings' anchors per file, and every relative link, outside code blocks.
std::map<std::string, std::set<std::string>> anchors;
std::vector<Link> links;

bool StartsWith(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

std::string Trim(const std::string& s) {
  size_t begin = s.find_first_not_of(" \t\r");
  if (begin == std::string::npos) return "";
  size_t end = s.find_last_not_of(" \t\r");
  return s.substr(begin, end - begin + 1);
}

bool IsCppInfo(const std::string& info) {
  return info == "cpp" || info == "c++" || info == "cc" || info == "cxx" ||
         info == "C++";
}

// GitHub's anchor of a heading: lower case, punctuation other than '-' and
// '_' dropped, spaces as '-'.
std::string Anchor(const std::string& heading) {
  std::string out;
  for (char c : heading) {
    unsigned char u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '_') {
      out += static_cast<char>(std::tolower(u));
    } else if (c == ' ') {
      out += '-';
    }
  }
  return out;
}

// Records the heading and the links of a line outside code blocks.
void ScanProse(const std::string& path, int number, const std::string& line) {
  if (StartsWith(line, "#")) {
    size_t text = line.find_first_not_of('#');
    if (text != std::string::npos && line[text] == ' ') {
      std::string anchor = Anchor(Trim(line.substr(text)));
      std::set<std::string>& set = anchors[path];
      // Repeated headings get -1, -2, ...
      std::string unique = anchor;
      for (int i = 1; set.count(unique) > 0; ++i) {
        unique = anchor + "-" + std::to_string(i);
      }
      set.insert(unique);
    }
  }
  bool in_code = false;
  for (size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '`') in_code = !in_code;
    if (in_code || line[i] != ']' || i + 1 >= line.size() || line[i + 1] != '(') {
      continue;
    }
    size_t end = line.find(')', i + 2);
    if (end == std::string::npos) continue;
    std::string target = line.substr(i + 2, end - i - 2);
    if (target.find("://") != std::string::npos || StartsWith(target, "mailto:")) {
      continue;
    }
    links.push_back(Link{path, number, target});
  }
}

// `base`'s directory joined with `relative`, with "." and ".." resolved.
std::string Resolve(const std::string& base, const std::string& relative) {
  std::vector<std::string> parts;
  size_t slash = base.rfind('/');
  std::string joined =
      (slash == std::string::npos ? "" : base.substr(0, slash + 1)) + relative;
  std::stringstream in(joined);
  std::string part;
  while (std::getline(in, part, '/')) {
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.push_back(part);
  }
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "" : "/") + p;
  return out;
}

// Whether every collected link resolves; prints each broken one.
bool CheckLinks() {
  bool ok = true;
  for (const Link& link : links) {
    size_t hash = link.target.find('#');
    std::string path = link.target.substr(0, hash);
    std::string anchor =
        hash == std::string::npos ? "" : link.target.substr(hash + 1);
    std::string file = path.empty() ? link.file : Resolve(link.file, path);
    auto it = anchors.find(file);
    if (it == anchors.end()) {
      bool ours = StartsWith(file, "docs/") && file.size() > 3 &&
                  file.compare(file.size() - 3, 3, ".md") == 0;
      if (ours) {
        std::cerr << link.file << ":" << link.line << ": broken link to "
                  << link.target << " (no such file)\n";
        ok = false;
      }
      continue;
    }
    if (!anchor.empty() && it->second.count(anchor) == 0) {
      std::cerr << link.file << ":" << link.line << ": broken link to "
                << link.target << " (no heading with that anchor)\n";
      ok = false;
    }
  }
  return ok;
}

// Appends the C++ blocks of `path` to `blocks`; false on a malformed file.
bool ReadBlocks(const std::string& path, std::vector<Block>* blocks) {
  std::ifstream in(path);
  if (!in) {
    std::cerr << path << ": cannot open\n";
    return false;
  }
  std::string line;
  int number = 0;
  bool in_fence = false;
  bool cpp = false;
  std::string fence;
  int fence_line = 0;
  Block block;
  anchors[path];  // the file exists, even without headings
  while (std::getline(in, line)) {
    ++number;
    std::string trimmed = Trim(line);
    if (!in_fence) {
      if (!StartsWith(trimmed, "```") && !StartsWith(trimmed, "~~~")) {
        ScanProse(path, number, line);
      }
      if (StartsWith(trimmed, "```") || StartsWith(trimmed, "~~~")) {
        size_t n = trimmed.find_first_not_of(trimmed[0]);
        fence = trimmed.substr(0, n == std::string::npos ? trimmed.size() : n);
        std::string info =
            Trim(n == std::string::npos ? "" : trimmed.substr(n));
        info = info.substr(0, info.find_first_of(" \t{"));
        in_fence = true;
        fence_line = number;
        cpp = IsCppInfo(info);
        block = Block{path, number + 1, {}};
      }
      continue;
    }
    if (StartsWith(trimmed, fence) &&
        trimmed.find_first_not_of(fence[0]) == std::string::npos) {
      in_fence = false;
      if (cpp) {
        bool any = false;
        for (const std::string& l : block.lines) any |= !Trim(l).empty();
        if (!any) {
          std::cerr << path << ":" << fence_line << ": empty C++ block\n";
          return false;
        }
        blocks->push_back(block);
      }
      continue;
    }
    if (cpp) block.lines.push_back(line);
  }
  if (in_fence) {
    std::cerr << path << ":" << fence_line << ": code fence never closed\n";
    return false;
  }
  return true;
}

bool DefinesMain(const Block& block) {
  for (const std::string& line : block.lines) {
    std::string t = Trim(line);
    if (StartsWith(t, "int main(")) return true;
  }
  return false;
}

std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: extract_examples OUT.cc FILE.md...\n";
    return 2;
  }
  std::vector<Block> blocks;
  for (int i = 2; i < argc; ++i) {
    if (!ReadBlocks(argv[i], &blocks)) return 1;
  }
  if (!CheckLinks()) return 1;

  std::ostringstream out;
  out << "// Generated by docs/internal/extract_examples from the "
         "documentation's C++ blocks. Do not edit.\n";
  // Every block's includes, once each, before any namespace.
  std::set<std::string> seen;
  for (const Block& block : blocks) {
    for (const std::string& line : block.lines) {
      std::string t = Trim(line);
      if (StartsWith(t, "#include") && seen.insert(t).second) {
        out << t << "\n";
      }
    }
  }
  out << "#include <sys/wait.h>\n#include <unistd.h>\n#include <csignal>\n"
         "#include <cstdio>\n#include <cstdlib>\n\n";

  std::vector<std::pair<size_t, const Block*>> programs;
  for (size_t i = 0; i < blocks.size(); ++i) {
    const Block& block = blocks[i];
    out << "namespace doc_example_" << i << " {\n";
    out << "#line " << block.first_line << " " << Quote(block.file) << "\n";
    for (const std::string& line : block.lines) {
      // An #include stays a blank line, so the line numbers stay right.
      out << (StartsWith(Trim(line), "#include") ? "" : line) << "\n";
    }
    out << "}  // namespace doc_example_" << i << "\n";
    if (DefinesMain(block)) programs.push_back({i, &block});
  }

  out << R"RUN(
namespace doc_examples_runner {
inline int Call(int (*f)()) { return f(); }
inline int Call(int (*f)(int, char**)) {
  static char name[] = "example";
  static char* args[] = {name, nullptr};
  return f(1, args);
}
struct Program {
  const char* where;
  int (*run)();
};
)RUN";
  out << "const Program kPrograms[] = {\n";
  for (const auto& [index, block] : programs) {
    out << "  {" << Quote(block->file + ":" + std::to_string(block->first_line))
        << ", [] { return Call(&doc_example_" << index << "::main); }},\n";
  }
  out << "  {nullptr, nullptr}};\n}  // namespace doc_examples_runner\n";
  out << R"RUN(
// Runs every whole-program example in a child of its own, in document order.
int main() {
  int failed = 0;
  int ran = 0;
  for (const doc_examples_runner::Program* p = doc_examples_runner::kPrograms;
       p->where != nullptr; ++p) {
    std::fflush(nullptr);
    pid_t pid = fork();
    if (pid < 0) {
      std::perror("fork");
      return 1;
    }
    if (pid == 0) {
      alarm(60);
      int rc = p->run();
      std::fflush(nullptr);
      _exit(rc);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
    }
    ++ran;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
      std::printf("ok: the example at %s\n", p->where);
    } else {
      ++failed;
      if (WIFEXITED(status)) {
        std::printf("FAILED: the example at %s exited with status %d\n",
                    p->where, WEXITSTATUS(status));
      } else {
        std::printf("FAILED: the example at %s was killed by signal %d%s\n",
                    p->where, WTERMSIG(status),
                    WTERMSIG(status) == SIGALRM ? " (ran over 60 s)" : "");
      }
    }
  }
  std::printf("%d of %d example programs passed; every C++ block compiled\n",
              ran - failed, ran);
  return failed == 0 ? 0 : 1;
}
)RUN";

  std::ofstream file(argv[1]);
  file << out.str();
  file.close();
  if (!file) {
    std::cerr << argv[1] << ": cannot write\n";
    return 1;
  }
  return 0;
}
