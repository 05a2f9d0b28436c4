#include "tests/layering/layering.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <set>
#include <system_error>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace sild::layering {
namespace {

using Bindings = std::map<std::string, std::string>;

bool Match(absl::string_view glob, absl::string_view path, Bindings& bindings) {
  if (glob.empty()) return path.empty();
  if (absl::StartsWith(glob, "**")) {
    absl::string_view rest = glob.substr(2);
    if (absl::StartsWith(rest, "/") && Match(rest.substr(1), path, bindings)) {
      return true;  // "**/" matching no folder at all
    }
    for (size_t i = 0; i <= path.size(); ++i) {
      if (Match(rest, path.substr(i), bindings)) return true;
    }
    return false;
  }
  if (glob[0] == '*') {
    absl::string_view rest = glob.substr(1);
    for (size_t i = 0;; ++i) {
      if (Match(rest, path.substr(i), bindings)) return true;
      if (i == path.size() || path[i] == '/') return false;
    }
  }
  if (glob[0] == '?') {
    if (path.empty() || path[0] == '/') return false;
    return Match(glob.substr(1), path.substr(1), bindings);
  }
  if (glob[0] == '<') {
    size_t close = glob.find('>');
    if (close != absl::string_view::npos) {
      std::string name(glob.substr(1, close - 1));
      absl::string_view rest = glob.substr(close + 1);
      auto bound = bindings.find(name);
      if (bound != bindings.end()) {
        if (!absl::StartsWith(path, bound->second)) return false;
        return Match(rest, path.substr(bound->second.size()), bindings);
      }
      for (size_t n = 1; n <= path.size() && path[n - 1] != '/'; ++n) {
        bindings[name] = std::string(path.substr(0, n));
        if (Match(rest, path.substr(n), bindings)) return true;
      }
      bindings.erase(name);
      return false;
    }
  }
  if (path.empty() || glob[0] != path[0]) return false;
  return Match(glob.substr(1), path.substr(1), bindings);
}

// True if `path` is in `set` given the variables already in `bindings`; the
// ones the matching plain glob binds are added to `bindings`.
bool InSet(const PathSet& set, absl::string_view path, Bindings& bindings) {
  bool in = false;
  for (const std::string& glob : set.globs) {
    Bindings attempt = bindings;
    if (Match(glob, path, attempt)) {
      bindings = std::move(attempt);
      in = true;
      break;
    }
  }
  if (!in) return false;
  for (const std::string& glob : set.excluded) {
    Bindings attempt = bindings;
    if (Match(glob, path, attempt)) return false;
  }
  return true;
}

bool IsNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

// Checks one glob as written (before brace expansion); adds the variable
// names it uses to `names`. Returns "" or what is wrong.
std::string CheckGlob(absl::string_view glob, std::set<std::string>& names) {
  bool in_braces = false;
  for (size_t i = 0; i < glob.size(); ++i) {
    char c = glob[i];
    if (c == '{') {
      if (in_braces) return absl::StrCat("nested '{' in \"", glob, "\"");
      in_braces = true;
    } else if (c == '}') {
      if (!in_braces) return absl::StrCat("'}' without '{' in \"", glob, "\"");
      in_braces = false;
    } else if (c == '<') {
      size_t close = glob.find('>', i);
      if (close == absl::string_view::npos) {
        return absl::StrCat("'<' without '>' in \"", glob, "\"");
      }
      absl::string_view name = glob.substr(i + 1, close - i - 1);
      if (name.empty() || !std::all_of(name.begin(), name.end(), IsNameChar)) {
        return absl::StrCat("\"<", name, ">\" in \"", glob,
                            "\" is not a variable (<letters, digits, _>)");
      }
      names.insert(std::string(name));
      i = close;
    } else if (c == '>') {
      return absl::StrCat("'>' without '<' in \"", glob, "\"");
    }
  }
  if (in_braces) return absl::StrCat("'{' without '}' in \"", glob, "\"");
  return "";
}

// "a/{b,c}/{d,e}" -> a/b/d, a/b/e, a/c/d, a/c/e (CheckGlob passed).
std::vector<std::string> ExpandBraces(absl::string_view glob) {
  size_t open = glob.find('{');
  if (open == absl::string_view::npos) return {std::string(glob)};
  size_t close = glob.find('}', open);
  std::vector<std::string> out;
  for (absl::string_view alternative :
       absl::StrSplit(glob.substr(open + 1, close - open - 1), ',')) {
    for (std::string& tail : ExpandBraces(glob.substr(close + 1))) {
      out.push_back(absl::StrCat(glob.substr(0, open), alternative, tail));
    }
  }
  return out;
}

// Parses the globs of one side; returns "" or what is wrong.
std::string ParseSide(const std::vector<absl::string_view>& tokens,
                      absl::string_view side, PathSet& set,
                      std::vector<std::set<std::string>>& plain_names,
                      std::set<std::string>& excluded_names) {
  if (tokens.empty()) {
    return absl::StrCat("no glob ", side, " \"->\"");
  }
  for (absl::string_view token : tokens) {
    bool excluded = absl::ConsumePrefix(&token, "!");
    if (token.empty()) return "a lone '!' (write !<glob>)";
    std::set<std::string> names;
    std::string problem = CheckGlob(token, names);
    if (!problem.empty()) return problem;
    if (excluded) {
      excluded_names.insert(names.begin(), names.end());
    } else {
      plain_names.push_back(names);
    }
    for (std::string& glob : ExpandBraces(token)) {
      (excluded ? set.excluded : set.globs).push_back(std::move(glob));
    }
  }
  if (set.globs.empty()) {
    return absl::StrCat("only '!' globs ", side,
                        " \"->\": add one saying what is covered (e.g. **)");
  }
  return "";
}

// Parses a forbid or allow line (tokens after the keyword); returns "" or
// what is wrong.
std::string ParseEdge(const std::vector<absl::string_view>& tokens,
                      Rule& rule) {
  size_t arrows = std::count(tokens.begin(), tokens.end(), "->");
  if (arrows == 0) {
    return "expected \"<from globs> -> <to globs>\" (no \"->\")";
  }
  if (arrows > 1) return "more than one \"->\"";
  auto arrow = std::find(tokens.begin(), tokens.end(), "->");
  std::vector<std::set<std::string>> from_names, to_names;
  std::set<std::string> from_excluded_names, to_excluded_names;
  std::string problem =
      ParseSide(std::vector<absl::string_view>(tokens.begin(), arrow), "before",
                rule.from, from_names, from_excluded_names);
  if (problem.empty()) {
    problem = ParseSide(std::vector<absl::string_view>(arrow + 1, tokens.end()),
                        "after", rule.to, to_names, to_excluded_names);
  }
  if (!problem.empty()) return problem;
  // A variable seen after "->" or in a '!' glob before it means "the same
  // text as in the including file": every plain <from> glob must bind it.
  std::set<std::string> used = from_excluded_names;
  for (const auto& names : to_names) used.insert(names.begin(), names.end());
  used.insert(to_excluded_names.begin(), to_excluded_names.end());
  for (const std::string& name : used) {
    for (const auto& names : from_names) {
      if (!names.contains(name)) {
        return absl::StrCat("<", name,
                            "> is used but not bound by every glob before "
                            "\"->\"");
      }
    }
  }
  if (rule.reason.empty()) {
    return absl::StrCat("a",
                        rule.kind == Rule::Kind::kAllow ? "n allow" : " forbid",
                        " line needs a reason after '#'");
  }
  return "";
}

}  // namespace

bool GlobMatch(absl::string_view glob, absl::string_view path,
               std::map<std::string, std::string>& bindings) {
  return Match(glob, path, bindings);
}

bool GlobMatch(absl::string_view glob, absl::string_view path) {
  Bindings bindings;
  return Match(glob, path, bindings);
}

bool Rule::Matches(absl::string_view from_path,
                   absl::string_view include) const {
  Bindings bindings;
  return InSet(from, from_path, bindings) && InSet(to, include, bindings);
}

std::string Rule::Where() const {
  return absl::StrCat(file, ":", line, ": ", text);
}

absl::StatusOr<RuleSet> ParseRules(absl::string_view text,
                                   absl::string_view file_name) {
  RuleSet rules;
  std::vector<std::string> errors;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    absl::string_view body = line;
    absl::string_view reason;
    if (size_t hash = line.find('#'); hash != absl::string_view::npos) {
      body = line.substr(0, hash);
      reason = absl::StripAsciiWhitespace(line.substr(hash + 1));
    }
    std::vector<absl::string_view> tokens =
        absl::StrSplit(body, absl::ByAnyChar(" \t\r"), absl::SkipEmpty());
    if (tokens.empty()) continue;  // blank or comment
    const std::string written = absl::StrJoin(tokens, " ");
    auto error = [&](absl::string_view what) {
      errors.push_back(absl::StrCat(file_name, ":", line_number, ": ", what,
                                    ": ", absl::StripAsciiWhitespace(line)));
    };
    const absl::string_view keyword = tokens[0];
    tokens.erase(tokens.begin());
    if (keyword == "scan") {
      if (tokens.empty()) error("\"scan\" needs at least one folder");
      for (absl::string_view dir : tokens) {
        absl::ConsumeSuffix(&dir, "/");
        if (dir.empty() || absl::StartsWith(dir, "/") ||
            absl::StrContains(dir, "..") ||
            dir.find_first_of("*?{}<>!") != absl::string_view::npos) {
          error(absl::StrCat("\"", dir,
                             "\" is not a folder under the root (no globs, "
                             "no .., not absolute)"));
          continue;
        }
        rules.scan.push_back(std::string(dir));
      }
    } else if (keyword == "forbid" || keyword == "allow") {
      Rule rule;
      rule.kind = keyword == "allow" ? Rule::Kind::kAllow : Rule::Kind::kForbid;
      rule.reason = std::string(reason);
      rule.file = std::string(file_name);
      rule.line = line_number;
      rule.text = written;
      std::string problem = ParseEdge(tokens, rule);
      if (problem.empty()) {
        rules.rules.push_back(std::move(rule));
      } else {
        error(problem);
      }
    } else {
      error(absl::StrCat("unknown keyword \"", keyword,
                         "\" (expected scan, forbid or allow)"));
    }
  }
  if (rules.scan.empty() && errors.empty()) {
    errors.push_back(absl::StrCat(
        file_name, ": no \"scan\" line, so no file would be checked"));
  }
  if (!errors.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "malformed layering rules:\n", absl::StrJoin(errors, "\n")));
  }
  return rules;
}

absl::StatusOr<std::vector<Include>> ScanIncludes(
    const std::string& root, const std::vector<std::string>& dirs) {
  namespace fs = std::filesystem;
  std::vector<fs::path> files;
  for (const std::string& dir : dirs) {
    const fs::path folder = fs::path(root) / dir;
    std::error_code ec;
    if (!fs::is_directory(folder, ec)) {
      return absl::NotFoundError(
          absl::StrCat("no folder ", folder.string(), " to scan"));
    }
    for (auto it = fs::recursive_directory_iterator(folder, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      const fs::path& path = it->path();
      if (it->is_regular_file() &&
          (path.extension() == ".h" || path.extension() == ".cc")) {
        files.push_back(path);
      }
    }
    if (ec) {
      return absl::InternalError(
          absl::StrCat("reading ", folder.string(), ": ", ec.message()));
    }
  }
  std::sort(files.begin(), files.end());
  std::vector<Include> includes;
  for (const fs::path& path : files) {
    std::ifstream in(path);
    if (!in) {
      return absl::InternalError(absl::StrCat("cannot read ", path.string()));
    }
    const std::string file =
        path.lexically_relative(fs::path(root)).generic_string();
    std::string line;
    for (int number = 1; std::getline(in, line); ++number) {
      absl::string_view rest = absl::StripLeadingAsciiWhitespace(line);
      if (!absl::ConsumePrefix(&rest, "#")) continue;
      rest = absl::StripLeadingAsciiWhitespace(rest);
      if (!absl::ConsumePrefix(&rest, "include")) continue;
      rest = absl::StripLeadingAsciiWhitespace(rest);
      if (rest.empty() || (rest[0] != '"' && rest[0] != '<')) continue;
      const char close = rest[0] == '"' ? '"' : '>';
      size_t end = rest.find(close, 1);
      if (end == absl::string_view::npos) continue;
      includes.push_back(
          Include{file, number, std::string(rest.substr(1, end - 1))});
    }
  }
  return includes;
}

std::string Violation::ToString() const {
  return absl::StrCat(include.file, ":", include.line, ": #include \"",
                      include.target, "\" breaks ", rule.Where(), "  (",
                      rule.reason, ")");
}

std::string LayeringReport::ToString() const {
  std::string out;
  for (const Violation& violation : violations) {
    absl::StrAppend(&out, violation.ToString(), "\n");
  }
  for (const Rule& allow : stale_allows) {
    absl::StrAppend(&out, allow.Where(), "  (", allow.reason,
                    ") excuses no forbidden include any more: remove it\n");
  }
  return out;
}

LayeringReport Check(const std::vector<Include>& includes,
                     const RuleSet& rules) {
  LayeringReport report;
  report.includes_checked = includes.size();
  std::vector<bool> used(rules.rules.size(), false);
  for (const Include& include : includes) {
    std::vector<const Rule*> broken;
    for (const Rule& rule : rules.rules) {
      if (rule.kind == Rule::Kind::kForbid &&
          rule.Matches(include.file, include.target)) {
        broken.push_back(&rule);
      }
    }
    if (broken.empty()) continue;
    bool excused = false;
    for (size_t i = 0; i < rules.rules.size(); ++i) {
      const Rule& rule = rules.rules[i];
      if (rule.kind == Rule::Kind::kAllow &&
          rule.Matches(include.file, include.target)) {
        used[i] = true;
        excused = true;
      }
    }
    if (excused) continue;
    for (const Rule* rule : broken) {
      report.violations.push_back(Violation{include, *rule});
    }
  }
  for (size_t i = 0; i < rules.rules.size(); ++i) {
    if (rules.rules[i].kind == Rule::Kind::kAllow && !used[i]) {
      report.stale_allows.push_back(rules.rules[i]);
    }
  }
  return report;
}

absl::StatusOr<LayeringReport> CheckLayering(const std::string& root,
                                             const RuleSet& rules) {
  absl::StatusOr<std::vector<Include>> includes =
      ScanIncludes(root, rules.scan);
  if (!includes.ok()) return includes.status();
  return Check(*includes, rules);
}

}  // namespace sild::layering
