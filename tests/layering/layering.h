// The layering check: which project files may include which headers.
//
//   absl::StatusOr<RuleSet> rules =
//       ParseRules(ReadTestFile("tests/layering/rules.txt"), "rules.txt");
//   absl::StatusOr<LayeringReport> report = CheckLayering(root, *rules);
//   if (!report->ok()) std::cerr << report->ToString();
//
// The rule format is documented at the top of tests/layering/rules.txt. In
// short: `scan <dir>...`, `forbid <from> -> <to>  # why` and
// `allow <from> -> <to>  # why`, where <from> globs the including file and
// <to> the include as written. An include is a violation if some forbid line
// matches it and no allow line does; an allow line that matches no forbidden
// include is stale and reported too, so exceptions go away with the code.
#ifndef SILD_TESTS_LAYERING_LAYERING_H_
#define SILD_TESTS_LAYERING_LAYERING_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace sild::layering {

// Glob matching over '/'-separated paths:
//   **     any characters, '/' included; "**/" also matches nothing
//   *      any characters but '/'
//   ?      one character but '/'
//   <name> one or more characters but '/', bound in `bindings`: a name that
//          is already bound matches only its bound text
// ({a,b} alternatives are expanded by ParseRules, not here.)
bool GlobMatch(absl::string_view glob, absl::string_view path,
               std::map<std::string, std::string>& bindings);
bool GlobMatch(absl::string_view glob, absl::string_view path);

// One side of a rule: a path is in it if it matches some `globs` and none of
// `excluded` (written with a leading '!').
struct PathSet {
  std::vector<std::string> globs;
  std::vector<std::string> excluded;
};

struct Rule {
  enum class Kind { kForbid, kAllow };
  Kind kind = Kind::kForbid;
  PathSet from;  // the including file, relative to the root
  PathSet to;    // the include as written
  std::string reason;
  // Where it was written: the rules file's name, the line number and the
  // line itself (without its comment), for messages.
  std::string file;
  int line = 0;
  std::string text;

  // The variables (<name>) bound by `from` are visible in `to`.
  bool Matches(absl::string_view from_path, absl::string_view include) const;
  // "rules.txt:12: forbid a/** -> b/**".
  std::string Where() const;
};

struct RuleSet {
  std::vector<std::string> scan;  // folders under the root, e.g. "gateway"
  std::vector<Rule> rules;        // in file order
};

// Parses the rule format (see rules.txt). Fails with InvalidArgument listing
// every malformed line as "<file_name>:<line>: <what is wrong>: <line>".
absl::StatusOr<RuleSet> ParseRules(absl::string_view text,
                                   absl::string_view file_name);

struct Include {
  std::string file;    // relative to the root, e.g. "gateway/base/log.cc"
  int line = 0;        // 1-based
  std::string target;  // as written, e.g. "gateway/base/log.h", "string"
};

// Every `#include "x"` and `#include <x>` line (read as text, no
// preprocessing) of every .h and .cc file under root/<dir> for each dir, in
// path order. Fails if a folder is missing or a file cannot be read.
absl::StatusOr<std::vector<Include>> ScanIncludes(
    const std::string& root, const std::vector<std::string>& dirs);

struct Violation {
  Include include;
  Rule rule;  // the forbid line it breaks
  // "gateway/base/a.h:3: #include "gateway/server/server.h" breaks
  //  rules.txt:7: forbid ... -> ...  (reason)".
  std::string ToString() const;
};

struct LayeringReport {
  std::vector<Violation> violations;  // one per include and broken rule
  std::vector<Rule> stale_allows;     // allow lines that excused nothing
  size_t includes_checked = 0;

  bool ok() const { return violations.empty() && stale_allows.empty(); }
  // Every violation and stale allow, one per line; "" when ok().
  std::string ToString() const;
};

// Applies `rules` to `includes`.
LayeringReport Check(const std::vector<Include>& includes,
                     const RuleSet& rules);

// Scans rules.scan under `root` and checks it.
absl::StatusOr<LayeringReport> CheckLayering(const std::string& root,
                                             const RuleSet& rules);

}  // namespace sild::layering

#endif  // SILD_TESTS_LAYERING_LAYERING_H_
