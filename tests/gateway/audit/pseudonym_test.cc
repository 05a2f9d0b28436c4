#include "gateway/audit/pseudonym.h"

#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "gtest/gtest.h"
#include "tests/gateway/audit/audit_test_util.h"

namespace sild::audit {
namespace {

std::string WriteTemp(const std::string& name, const std::string& bytes) {
  const std::string path = testing::TempPath(name);
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

const std::string kKey(32, '\x07');

TEST(PseudonymTest, IsHmacSha256InLowercaseHex) {
  // RFC 4231 test case 6: a 131-byte key (longer than the block size).
  absl::StatusOr<Pseudonymizer> p =
      Pseudonymizer::FromKey(std::string(131, '\xaa'));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->Pseudonym("Test Using Larger Than Block-Size Key - Hash Key "
                         "First"),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(PseudonymTest, IsDeterministicAndHidesTheCode) {
  Pseudonymizer p = *Pseudonymizer::FromKey(kKey);
  const std::string code = "51205280105";
  const std::string pseudonym = p.Pseudonym(code);
  EXPECT_EQ(pseudonym.size(), 64u);
  EXPECT_EQ(pseudonym, p.Pseudonym(code));
  EXPECT_EQ(pseudonym, Pseudonymizer::FromKey(kKey)->Pseudonym(code));
  EXPECT_EQ(pseudonym.find(code), std::string::npos);
  EXPECT_EQ(pseudonym.find("5120528"), std::string::npos);
  EXPECT_NE(pseudonym, p.Pseudonym("39001010009"));
}

TEST(PseudonymTest, AnotherKeyGivesAnotherPseudonym) {
  Pseudonymizer a = *Pseudonymizer::FromKey(kKey);
  Pseudonymizer b = *Pseudonymizer::FromKey(std::string(32, '\x08'));
  EXPECT_NE(a.Pseudonym("51205280105"), b.Pseudonym("51205280105"));
}

TEST(PseudonymTest, ReadsHexAndRawKeyFiles) {
  const std::string hex = absl::BytesToHexString(kKey);
  const std::string expected =
      Pseudonymizer::FromKey(kKey)->Pseudonym("51205280105");
  // `openssl rand -hex 32 > key` leaves a newline.
  absl::StatusOr<Pseudonymizer> from_hex =
      Pseudonymizer::FromKeyFile(WriteTemp("hex.key", hex + "\n"));
  ASSERT_TRUE(from_hex.ok()) << from_hex.status();
  EXPECT_EQ(from_hex->Pseudonym("51205280105"), expected);

  absl::StatusOr<Pseudonymizer> upper = Pseudonymizer::FromKeyFile(
      WriteTemp("upper.key", absl::AsciiStrToUpper(hex)));
  ASSERT_TRUE(upper.ok()) << upper.status();
  EXPECT_EQ(upper->Pseudonym("51205280105"), expected);

  absl::StatusOr<Pseudonymizer> raw =
      Pseudonymizer::FromKeyFile(WriteTemp("raw.key", kKey));
  ASSERT_TRUE(raw.ok()) << raw.status();
  EXPECT_EQ(raw->Pseudonym("51205280105"), expected);
}

TEST(PseudonymTest, RejectsShortOrBrokenKeysClearly) {
  absl::StatusOr<Pseudonymizer> short_hex = Pseudonymizer::FromKeyFile(
      WriteTemp("short_hex.key", std::string(62, 'a')));
  EXPECT_EQ(short_hex.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(short_hex.status().message().find("31 bytes of hex"),
            absl::string_view::npos)
      << short_hex.status();

  absl::StatusOr<Pseudonymizer> odd =
      Pseudonymizer::FromKeyFile(WriteTemp("odd.key", std::string(65, 'a')));
  EXPECT_NE(odd.status().message().find("odd length"), absl::string_view::npos)
      << odd.status();

  absl::StatusOr<Pseudonymizer> short_raw = Pseudonymizer::FromKeyFile(
      WriteTemp("short_raw.key", std::string(31, '\xff')));
  EXPECT_NE(short_raw.status().message().find("31 raw bytes"),
            absl::string_view::npos)
      << short_raw.status();

  EXPECT_FALSE(Pseudonymizer::FromKeyFile(WriteTemp("empty.key", "")).ok());
  EXPECT_EQ(Pseudonymizer::FromKeyFile("/nonexistent/sild/key").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_FALSE(Pseudonymizer::FromKey(std::string(31, 'k')).ok());
}

TEST(PseudonymTest, ConcurrentCallsAgree) {
  const Pseudonymizer p = *Pseudonymizer::FromKey(kKey);
  const std::string expected = p.Pseudonym("51205280105");
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        if (p.Pseudonym("51205280105") != expected) ++mismatches[t];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int m : mismatches) EXPECT_EQ(m, 0);
}

}  // namespace
}  // namespace sild::audit
