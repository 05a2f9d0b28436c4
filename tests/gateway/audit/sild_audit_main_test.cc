// Runs the real sild-audit binary on bundle files, as an auditor would.
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "gateway/audit/bundle.h"
#include "gateway/audit/file_io.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/gateway/audit/audit_test_util.h"

namespace sild::audit {
namespace {

struct CliRun {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

CliRun SildAudit(const std::string& args) {
  const std::string err_path = testing::TempPath("stderr");
  const std::string command = std::string(SILD_BINARY_DIR) +
                              "/gateway/audit/sild-audit " + args + " 2>" +
                              err_path;
  CliRun run;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return run;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) {
    run.out.append(buffer, n);
  }
  const int status = pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  run.err = Slurp(err_path);
  return run;
}

class SildAuditTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const CheckpointSigner signer = testing::NewSigner();
    bundle_ = new sild::v1::AuditBundle(testing::BundleOf(
        testing::BuildChain("sild-1", 150, 50, signer), signer));
    good_ = new std::string(testing::TempPath("good.sildaudit"));
    ASSERT_TRUE(WriteBundleFile(*bundle_, *good_).ok());

    sild::v1::AuditBundle tampered = *bundle_;
    tampered.mutable_records(41)->set_counterparty("70000000");
    tampered_ = new std::string(testing::TempPath("tampered.sildaudit"));
    ASSERT_TRUE(WriteBundleFile(tampered, *tampered_).ok());

    gateway_key_ = new std::string(testing::TempPath("gateway.pub.pem"));
    std::ofstream(*gateway_key_) << signer.public_key_pem();
    other_key_ = new std::string(testing::TempPath("other.pub.pem"));
    std::ofstream(*other_key_) << testing::NewSigner().public_key_pem();
  }

  static sild::v1::AuditBundle* bundle_;
  static std::string* good_;
  static std::string* tampered_;
  static std::string* gateway_key_;
  static std::string* other_key_;
};

sild::v1::AuditBundle* SildAuditTest::bundle_ = nullptr;
std::string* SildAuditTest::good_ = nullptr;
std::string* SildAuditTest::tampered_ = nullptr;
std::string* SildAuditTest::gateway_key_ = nullptr;
std::string* SildAuditTest::other_key_ = nullptr;

TEST_F(SildAuditTest, IntactBundleWithPinnedKeyExitsZero) {
  const CliRun run =
      SildAudit("verify " + *good_ + " --public-key " + *gateway_key_);
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_EQ(
      run.out.rfind("INTACT: chain sild-1, records 1..150 (150 records)", 0),
      0u)
      << run.out;
  EXPECT_EQ(run.err, "") << "no progress line when stderr is not a TTY";
}

TEST_F(SildAuditTest, WithoutAPinnedKeyWarnsThatTheEmbeddedKeyWasTrusted) {
  const CliRun run = SildAudit("verify " + *good_);
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_NE(run.err.find("warning: no --public-key given"), std::string::npos)
      << run.err;
}

TEST_F(SildAuditTest, TamperedBundleExitsOneNamingTheFirstFailure) {
  const CliRun run =
      SildAudit("verify " + *tampered_ + " --public-key=" + *gateway_key_);
  EXPECT_EQ(run.exit_code, 1) << run.out << run.err;
  EXPECT_NE(run.out.find("NOT INTACT: RECORD_HASH_MISMATCH at sequence 42:"),
            std::string::npos)
      << run.out;
  EXPECT_NE(run.out.find("41 records"), std::string::npos) << run.out;
}

TEST_F(SildAuditTest, AnotherGatewaysKeyIsAKeyMismatch) {
  const CliRun run =
      SildAudit("verify " + *good_ + " --public-key " + *other_key_);
  EXPECT_EQ(run.exit_code, 1) << run.out << run.err;
  EXPECT_NE(run.out.find("KEY_MISMATCH"), std::string::npos) << run.out;
}

TEST_F(SildAuditTest, DamagedFileIsNotIntact) {
  const std::string path = testing::TempPath("cut.sildaudit");
  const std::string bytes = *ReadFileBytes(*good_);
  ASSERT_TRUE(
      WriteFileAtomically(path, bytes.substr(0, bytes.size() / 2)).ok());
  const CliRun run = SildAudit("verify " + path);
  EXPECT_EQ(run.exit_code, 1) << run.out << run.err;
  EXPECT_NE(run.out.find("MALFORMED_BUNDLE"), std::string::npos) << run.out;
}

TEST_F(SildAuditTest, UsageErrorsAndUnreadableFilesExitTwo) {
  EXPECT_EQ(SildAudit("").exit_code, 2);
  EXPECT_EQ(SildAudit("verify").exit_code, 2);
  EXPECT_EQ(SildAudit("frobnicate " + *good_).exit_code, 2);
  EXPECT_EQ(SildAudit("verify " + *good_ + " --public-key").exit_code, 2);
  EXPECT_EQ(SildAudit("verify " + *good_ + " --bogus").exit_code, 2);
  EXPECT_EQ(SildAudit("verify /nonexistent/x.sildaudit").exit_code, 2);
  EXPECT_EQ(SildAudit("verify " + *gateway_key_).exit_code, 2)
      << "a PEM file is not a bundle";
  const CliRun bad_key =
      SildAudit("verify " + *good_ + " --public-key " + *good_);
  EXPECT_EQ(bad_key.exit_code, 2);
  EXPECT_NE(bad_key.err.find("not a PEM public key"), std::string::npos)
      << bad_key.err;
}

TEST_F(SildAuditTest, HelpExplainsTheCommands) {
  const CliRun run = SildAudit("--help");
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_NE(run.out.find("sild-audit verify BUNDLE.sildaudit"),
            std::string::npos);
  EXPECT_NE(run.out.find("--public-key"), std::string::npos);
}

TEST_F(SildAuditTest, DumpPrintsTheWholeBundleAsJson) {
  const CliRun run = SildAudit("dump " + *good_);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("\"chain_id\": \"sild-1\""), std::string::npos);
  sild::v1::AuditBundle parsed;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(run.out, &parsed).ok());
  EXPECT_TRUE(
      google::protobuf::util::MessageDifferencer::Equals(parsed, *bundle_));
}

}  // namespace
}  // namespace sild::audit
