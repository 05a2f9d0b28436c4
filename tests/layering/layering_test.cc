// The layering rules (tests/layering/rules.txt) hold on the source tree, and
// the checker finds a planted forbidden include, reports stale exceptions
// and malformed rule lines.
#include "tests/layering/layering.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace sild::layering {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kRulesPath[] = "tests/layering/rules.txt";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

RuleSet RealRules() {
  const std::string text =
      ReadFile(std::string(SILD_SOURCE_DIR) + "/" + kRulesPath);
  EXPECT_FALSE(text.empty()) << "cannot read " << kRulesPath;
  absl::StatusOr<RuleSet> rules = ParseRules(text, kRulesPath);
  EXPECT_TRUE(rules.ok()) << rules.status();
  return rules.ok() ? *rules : RuleSet();
}

// A fresh folder holding `files` (path -> content).
std::string PlantTree(const std::string& name,
                      const std::map<std::string, std::string>& files) {
  namespace fs = std::filesystem;
  const fs::path root = fs::path(::testing::TempDir()) / ("layering-" + name);
  fs::remove_all(root);
  fs::create_directories(root);
  for (const auto& [path, content] : files) {
    fs::create_directories((root / path).parent_path());
    std::ofstream(root / path) << content;
  }
  return root.string();
}

RuleSet Rules(const std::string& text) {
  absl::StatusOr<RuleSet> rules = ParseRules(text, "rules.txt");
  EXPECT_TRUE(rules.ok()) << rules.status();
  return rules.ok() ? *rules : RuleSet();
}

TEST(LayeringTest, TheSourceTreeKeepsTheRules) {
  absl::StatusOr<LayeringReport> report =
      CheckLayering(SILD_SOURCE_DIR, RealRules());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_GT(report->includes_checked, 1000u);  // the tree was really read
  EXPECT_TRUE(report->ok()) << "layering rules (" << kRulesPath << ") broken:\n"
                            << report->ToString();
}

TEST(LayeringTest, APlantedForbiddenIncludeIsReportedWithFileLineAndRule) {
  const std::string root = PlantTree(
      "planted",
      {{"gateway/base/clock.h",
        "// A clock.\n"
        "#include <string>\n"
        "#include \"gateway/server/server.h\"\n"
        "#include \"gateway/base/log.h\"\n"},
       {"gateway/base/log.h", "#include \"absl/strings/str_cat.h\"\n"},
       {"gateway/server/server.h", "#include \"gateway/base/clock.h\"\n"}});
  const RuleSet rules = Rules(
      "scan gateway\n"
      "\n"
      "forbid gateway/base/** -> gateway/** !gateway/base/**  # base is "
      "the bottom\n");
  absl::StatusOr<LayeringReport> report = CheckLayering(root, rules);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->includes_checked, 5u);
  ASSERT_EQ(report->violations.size(), 1u) << report->ToString();
  const Violation& violation = report->violations[0];
  EXPECT_EQ(violation.include.file, "gateway/base/clock.h");
  EXPECT_EQ(violation.include.line, 3);
  EXPECT_EQ(violation.include.target, "gateway/server/server.h");
  EXPECT_EQ(violation.rule.line, 3);
  EXPECT_EQ(violation.rule.reason, "base is the bottom");
  EXPECT_FALSE(report->ok());
  EXPECT_EQ(report->ToString(),
            "gateway/base/clock.h:3: #include \"gateway/server/server.h\" "
            "breaks rules.txt:3: forbid gateway/base/** -> gateway/** "
            "!gateway/base/**  (base is the bottom)\n");
}

TEST(LayeringTest, TheRealRulesCatchAPlantedCodecIncludingATransport) {
  const std::string root = PlantTree(
      "planted-real",
      {{"connectors/codecs/csv/csv_codec.cc",
        "#include \"connectors/codecs/csv/csv_codec.h\"\n"
        "#include \"connectors/sdk/codec.h\"\n"
        "#include \"gateway/base/errors.h\"\n"
        "#include \"sild/v1/referral.pb.h\"\n"
        "#include \"connectors/transports/file/file_transport.h\"\n"},
       {"connectors/codecs/csv/csv_codec.h", "#include <string>\n"},
       {"gateway/base/errors.h", "#include \"absl/status/status.h\"\n"},
       {"proto/.keep", ""},
       {"tests/.keep", ""}});
  absl::StatusOr<LayeringReport> report = CheckLayering(root, RealRules());
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_EQ(report->violations.size(), 1u) << report->ToString();
  const Violation& violation = report->violations[0];
  EXPECT_EQ(violation.include.file, "connectors/codecs/csv/csv_codec.cc");
  EXPECT_EQ(violation.include.line, 5);
  EXPECT_EQ(violation.include.target,
            "connectors/transports/file/file_transport.h");
  EXPECT_EQ(violation.rule.file, kRulesPath);
  EXPECT_THAT(
      violation.rule.text,
      HasSubstr("forbid connectors/codecs/** connectors/transports/**"));
  EXPECT_THAT(violation.ToString(),
              HasSubstr("connectors/codecs/csv/csv_codec.cc:5: #include "
                        "\"connectors/transports/file/file_transport.h\" "
                        "breaks tests/layering/rules.txt:"));
  // The real tree's exceptions excuse nothing here: stale.
  EXPECT_FALSE(report->stale_allows.empty());
}

TEST(LayeringTest, AnAllowExcusesAndAStaleAllowIsReported) {
  const std::string root =
      PlantTree("allow", {{"gateway/exchange/submit.h",
                           "#include \"grpcpp/support/status.h\"\n"
                           "#include \"grpcpp/server_context.h\"\n"}});
  const RuleSet rules = Rules(
      "scan gateway\n"
      "forbid gateway/exchange/*.h -> grpcpp/**  # no gRPC\n"
      "allow gateway/exchange/submit.h -> grpcpp/support/status.h  # TODO\n"
      "allow gateway/exchange/other.h -> grpcpp/**  # fixed long ago\n");
  absl::StatusOr<LayeringReport> report = CheckLayering(root, rules);
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_EQ(report->violations.size(), 1u) << report->ToString();
  EXPECT_EQ(report->violations[0].include.line, 2);
  ASSERT_EQ(report->stale_allows.size(), 1u);
  EXPECT_EQ(report->stale_allows[0].line, 4);
  EXPECT_THAT(report->ToString(),
              HasSubstr("rules.txt:4: allow gateway/exchange/other.h -> "
                        "grpcpp/**  (fixed long ago) excuses no forbidden "
                        "include any more: remove it"));
}

TEST(LayeringTest, VariablesMeanTheSameTextOnBothSides) {
  const RuleSet rules = Rules(
      "scan connectors\n"
      "forbid connectors/codecs/** -> connectors/**  # only own\n"
      "allow connectors/codecs/<c>/** -> connectors/codecs/<c>/**  # own\n");
  const std::vector<Include> includes = {
      {"connectors/codecs/fhir/a.cc", 1, "connectors/codecs/fhir/a.h"},
      {"connectors/codecs/fhir/a.cc", 2, "connectors/codecs/fhirx/b.h"},
      {"connectors/codecs/uif/u.cc", 3, "connectors/codecs/social/j.h"}};
  LayeringReport report = Check(includes, rules);
  ASSERT_EQ(report.violations.size(), 2u) << report.ToString();
  EXPECT_EQ(report.violations[0].include.line, 2);
  EXPECT_EQ(report.violations[1].include.line, 3);
  EXPECT_THAT(report.stale_allows, IsEmpty());
}

TEST(LayeringTest, Globs) {
  EXPECT_TRUE(GlobMatch("gateway/**", "gateway/base/log.h"));
  EXPECT_FALSE(GlobMatch("gateway/**", "gatewayx/log.h"));
  EXPECT_TRUE(GlobMatch("gateway/*.h", "gateway/log.h"));
  EXPECT_FALSE(GlobMatch("gateway/*.h", "gateway/base/log.h"));
  EXPECT_TRUE(GlobMatch("**/*_module.h", "gateway/exchange/exchange_module.h"));
  EXPECT_TRUE(GlobMatch("**/*_module.h", "x_module.h"));
  EXPECT_FALSE(GlobMatch("**/*_module.h", "gateway/rpc/module.h"));
  EXPECT_TRUE(GlobMatch("sild/v?/*.pb.h", "sild/v1/referral.pb.h"));
  std::map<std::string, std::string> bound;
  EXPECT_TRUE(GlobMatch("gateway/<m>/<f>_module.cc",
                        "gateway/exchange/exchange_module.cc", bound));
  EXPECT_EQ(bound["m"], "exchange");
  EXPECT_EQ(bound["f"], "exchange");
  EXPECT_TRUE(GlobMatch("gateway/<m>/<f>_module.h",
                        "gateway/exchange/exchange_module.h", bound));
  EXPECT_FALSE(GlobMatch("gateway/<m>/<f>_module.h",
                         "gateway/consent/consent_module.h", bound));
  // Braces are expanded by the parser.
  const RuleSet rules =
      Rules("scan gateway\nforbid gateway/{a,b}/{x,y}.h -> grpcpp/**  # no\n");
  ASSERT_EQ(rules.rules.size(), 1u);
  EXPECT_THAT(rules.rules[0].from.globs,
              ElementsAre("gateway/a/x.h", "gateway/a/y.h", "gateway/b/x.h",
                          "gateway/b/y.h"));
}

TEST(LayeringTest, IncludeLinesAreReadAsWritten) {
  const std::string root =
      PlantTree("scan", {{"gateway/a.cc",
                          "#include \"gateway/a.h\"\n"
                          "  #  include <grpcpp/grpcpp.h>\n"
                          "// #include \"gateway/commented.h\"\n"
                          "#include_next <x.h>\n"
                          "#define X \"#include \\\"no.h\\\"\"\n"},
                         {"gateway/notes.txt", "#include \"not/cpp.h\"\n"},
                         {"gateway/sub/b.h", "#include \"pugixml.hpp\"\n"}});
  absl::StatusOr<std::vector<Include>> includes =
      ScanIncludes(root, {"gateway"});
  ASSERT_TRUE(includes.ok()) << includes.status();
  ASSERT_EQ(includes->size(), 3u);
  EXPECT_EQ((*includes)[0].file, "gateway/a.cc");
  EXPECT_EQ((*includes)[0].target, "gateway/a.h");
  EXPECT_EQ((*includes)[1].line, 2);
  EXPECT_EQ((*includes)[1].target, "grpcpp/grpcpp.h");
  EXPECT_EQ((*includes)[2].file, "gateway/sub/b.h");
  EXPECT_EQ((*includes)[2].target, "pugixml.hpp");

  absl::StatusOr<std::vector<Include>> missing =
      ScanIncludes(root, {"gateway", "nowhere"});
  EXPECT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(), HasSubstr("nowhere"));
}

TEST(LayeringTest, MalformedRuleLinesAreReportedClearly) {
  absl::StatusOr<RuleSet> rules = ParseRules(
      "# comment\n"
      "scan gateway\n"
      "forbid gateway/base/** gateway/server/**  # no arrow\n"
      "allow gateway/a.h -> grpcpp/**\n"
      "forbidd a -> b  # typo\n"
      "forbid a -> -> b  # two arrows\n"
      "forbid !tests/** -> tests/**  # only excluded\n"
      "forbid a/{b,c -> d  # brace\n"
      "forbid a/** -> b/<x>/**  # unbound\n"
      "forbid gateway/base/** -> gateway/**  # fine\n",
      "rules.txt");
  ASSERT_FALSE(rules.ok());
  EXPECT_EQ(rules.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      rules.status().message(),
      "malformed layering rules:\n"
      "rules.txt:3: expected \"<from globs> -> <to globs>\" (no \"->\"): "
      "forbid gateway/base/** gateway/server/**  # no arrow\n"
      "rules.txt:4: an allow line needs a reason after '#': "
      "allow gateway/a.h -> grpcpp/**\n"
      "rules.txt:5: unknown keyword \"forbidd\" (expected scan, forbid or "
      "allow): forbidd a -> b  # typo\n"
      "rules.txt:6: more than one \"->\": forbid a -> -> b  # two arrows\n"
      "rules.txt:7: only '!' globs before \"->\": add one saying what is "
      "covered (e.g. **): forbid !tests/** -> tests/**  # only excluded\n"
      "rules.txt:8: '{' without '}' in \"a/{b,c\": "
      "forbid a/{b,c -> d  # brace\n"
      "rules.txt:9: <x> is used but not bound by every glob before \"->\": "
      "forbid a/** -> b/<x>/**  # unbound");

  absl::StatusOr<RuleSet> no_scan =
      ParseRules("forbid a/** -> b/**  # why\n", "rules.txt");
  ASSERT_FALSE(no_scan.ok());
  EXPECT_THAT(no_scan.status().message(),
              HasSubstr("rules.txt: no \"scan\" line"));
}

}  // namespace
}  // namespace sild::layering
