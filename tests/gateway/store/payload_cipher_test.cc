// PayloadCipher: AES-256-GCM sealing of payloads at rest. Any change to a
// sealed value, its row binding or the key is DATA_LOSS; key files are
// accepted in exactly the two documented forms.
#include "gateway/store/payload_cipher.h"

#include <atomic>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gateway/base/errors.h"
#include "gtest/gtest.h"
#include "tests/gateway/store/store_test_util.h"
#include "tests/testing/test_env.h"

namespace sild {
namespace {

using ::sild::testing::HasError;

constexpr size_t kOverhead = 1 + 12 + 16;  // format, nonce, tag

std::string TestKey(char seed = 0) {
  std::string key(32, '\0');
  for (int i = 0; i < 32; ++i) key[i] = static_cast<char>(seed + i * 7 + 0x80);
  return key;
}

std::unique_ptr<PayloadCipher> Cipher(const std::string& key) {
  auto cipher = PayloadCipher::FromKey(key);
  EXPECT_TRUE(cipher.ok()) << cipher.status();
  return cipher.ok() ? std::move(*cipher) : nullptr;
}

class PayloadCipherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cipher_ = Cipher(TestKey());
    ASSERT_NE(cipher_, nullptr);
  }

  std::string Seal(absl::string_view plaintext, absl::string_view associated) {
    auto sealed = cipher_->Seal(plaintext, associated);
    EXPECT_TRUE(sealed.ok()) << sealed.status();
    return sealed.ok() ? *sealed : "";
  }

  std::string WriteKeyFile(absl::string_view contents) {
    std::string path =
        sild::testing::MakeTempDir("payload-cipher") + "/payload.key";
    std::ofstream(path, std::ios::binary) << contents;
    return path;
  }

  std::unique_ptr<PayloadCipher> cipher_;
};

TEST_F(PayloadCipherTest, RoundTripsAnySize) {
  for (size_t size : {0, 1, 15, 16, 17, 1000, 100000}) {
    std::string plaintext(size, '\0');
    for (size_t i = 0; i < size; ++i) plaintext[i] = static_cast<char>(i * 31);
    std::string sealed = Seal(plaintext, "consent:42:1");
    ASSERT_EQ(sealed.size(), size + kOverhead);
    EXPECT_EQ(sealed[0], '\x01') << "format byte";
    if (size >= 16) {
      EXPECT_EQ(sealed.find(plaintext.substr(0, 16)), std::string::npos)
          << "plaintext visible in the sealed value";
    }
    auto opened = cipher_->Open(sealed, "consent:42:1");
    ASSERT_TRUE(opened.ok()) << opened.status();
    EXPECT_EQ(*opened, plaintext);
  }
}

TEST_F(PayloadCipherTest, EmptyPlaintextAndEmptyAssociatedData) {
  std::string sealed = Seal("", "");
  EXPECT_EQ(sealed.size(), kOverhead);
  auto opened = cipher_->Open(sealed, "");
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(*opened, "");
  // Even an empty payload is authenticated and bound to its row.
  EXPECT_TRUE(HasError(cipher_->Open(sealed, "x").status(),
                       absl::StatusCode::kDataLoss, "PAYLOAD_CORRUPT"));
}

TEST_F(PayloadCipherTest, OtherAssociatedDataIsDataLoss) {
  std::string sealed = Seal("referral body", "referral:7");
  for (absl::string_view other :
       {"referral:8", "referral:7 ", "", "Referral:7", "consent:7"}) {
    EXPECT_TRUE(HasError(cipher_->Open(sealed, other).status(),
                         absl::StatusCode::kDataLoss, "PAYLOAD_CORRUPT"))
        << other;
  }
}

TEST_F(PayloadCipherTest, AnyFlippedBitIsDataLoss) {
  std::string sealed = Seal("child's health note: asthma", "message:1");
  for (size_t i = 0; i < sealed.size(); ++i) {
    for (int bit : {0, 7}) {
      std::string altered = sealed;
      altered[i] = static_cast<char>(altered[i] ^ (1 << bit));
      EXPECT_TRUE(HasError(cipher_->Open(altered, "message:1").status(),
                           absl::StatusCode::kDataLoss, "PAYLOAD_CORRUPT"))
          << "byte " << i << " bit " << bit;
    }
  }
}

TEST_F(PayloadCipherTest, TruncatedOrExtendedValueIsDataLoss) {
  std::string sealed = Seal("payload", "row");
  for (size_t length = 0; length < sealed.size(); ++length) {
    EXPECT_TRUE(
        HasError(cipher_->Open(sealed.substr(0, length), "row").status(),
                 absl::StatusCode::kDataLoss, "PAYLOAD_CORRUPT"))
        << length;
  }
  EXPECT_TRUE(HasError(cipher_->Open(sealed + "x", "row").status(),
                       absl::StatusCode::kDataLoss, "PAYLOAD_CORRUPT"));
}

TEST_F(PayloadCipherTest, OtherKeyIsDataLoss) {
  std::string sealed = Seal("payload", "row");
  auto other = Cipher(TestKey(1));
  ASSERT_NE(other, nullptr);
  EXPECT_TRUE(HasError(other->Open(sealed, "row").status(),
                       absl::StatusCode::kDataLoss, "PAYLOAD_CORRUPT"));
}

// Each thread keeps its contexts keyed for the cipher it used last; two
// ciphers taking turns on one thread, a cipher at the address of a destroyed
// one, and a failed open in between must all still use the right key.
TEST_F(PayloadCipherTest, CiphersTakingTurnsOnOneThreadKeepTheirKeys) {
  auto other = Cipher(TestKey(1));
  ASSERT_NE(other, nullptr);
  for (int i = 0; i < 3; ++i) {
    std::string mine = Seal("mine", "row");
    auto theirs = other->Seal("theirs", "row");
    ASSERT_TRUE(theirs.ok());
    EXPECT_EQ(*cipher_->Open(mine, "row"), "mine");
    EXPECT_EQ(*other->Open(*theirs, "row"), "theirs");
    EXPECT_FALSE(cipher_->Open(*theirs, "row").ok());
    EXPECT_FALSE(other->Open(mine, "row").ok());
    // After a failed open the next one still succeeds.
    EXPECT_EQ(*cipher_->Open(mine, "row"), "mine");
  }
  std::string sealed = Seal("payload", "row");
  for (int i = 0; i < 4; ++i) {
    // A new cipher with another key, likely at a recycled address.
    cipher_ = Cipher(TestKey(static_cast<char>(10 + i)));
    ASSERT_NE(cipher_, nullptr);
    EXPECT_FALSE(cipher_->Open(sealed, "row").ok());
    std::string fresh = Seal("payload", "row");
    EXPECT_EQ(*cipher_->Open(fresh, "row"), "payload");
    sealed = fresh;
  }
}

TEST_F(PayloadCipherTest, ManyThreadsSealAndOpenAtOnce) {
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        std::string plain = absl::StrCat("thread ", t, " value ", i);
        auto sealed = cipher_->Seal(plain, "row");
        if (!sealed.ok()) {
          ++failures;
          continue;
        }
        auto opened = cipher_->Open(*sealed, "row");
        if (!opened.ok() || *opened != plain) ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST_F(PayloadCipherTest, EverySealUsesAFreshNonce) {
  std::string first = Seal("same plaintext", "row");
  std::string second = Seal("same plaintext", "row");
  EXPECT_NE(first.substr(1, 12), second.substr(1, 12));
  EXPECT_NE(first, second);
  EXPECT_EQ(*cipher_->Open(first, "row"), "same plaintext");
  EXPECT_EQ(*cipher_->Open(second, "row"), "same plaintext");
}

TEST_F(PayloadCipherTest, HexKeyFileWithNewlineIsTheSameKey) {
  std::string hex = absl::BytesToHexString(TestKey());
  for (std::string contents :
       {hex + "\n", hex, absl::AsciiStrToUpper(hex) + "\r\n",
        hex.substr(0, 32) + "\n" + hex.substr(32) + "\n"}) {
    auto from_file = PayloadCipher::FromKeyFile(WriteKeyFile(contents));
    ASSERT_TRUE(from_file.ok()) << from_file.status();
    // Sealed under the file's key, opened under the raw key: same key.
    auto sealed = (*from_file)->Seal("payload", "row");
    ASSERT_TRUE(sealed.ok());
    EXPECT_EQ(*cipher_->Open(*sealed, "row"), "payload");
  }
}

TEST_F(PayloadCipherTest, RawThirtyTwoByteKeyFileIsTheSameKey) {
  auto from_file = PayloadCipher::FromKeyFile(WriteKeyFile(TestKey()));
  ASSERT_TRUE(from_file.ok()) << from_file.status();
  auto sealed = (*from_file)->Seal("payload", "row");
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(*cipher_->Open(*sealed, "row"), "payload");
}

TEST_F(PayloadCipherTest, WrongKeyFilesAreBadKeyFileNamingTheSetting) {
  std::string hex = absl::BytesToHexString(TestKey());
  const std::string bad[] = {
      "",
      TestKey().substr(0, 31),
      TestKey() + "!",
      hex.substr(0, 63) + "\n",
      hex + "0\n",
      std::string(64, 'g'),
      // 32 hex characters: a 16-byte key in hex, not 32 raw bytes.
      hex.substr(0, 32),
  };
  for (const std::string& contents : bad) {
    std::string path = WriteKeyFile(contents);
    auto cipher = PayloadCipher::FromKeyFile(path);
    ASSERT_FALSE(cipher.ok()) << "accepted " << contents.size() << " bytes";
    EXPECT_TRUE(HasError(cipher.status(), absl::StatusCode::kFailedPrecondition,
                         "BAD_KEY_FILE"));
    EXPECT_EQ(ErrorField(cipher.status()), "store.payload_key_file");
    EXPECT_NE(cipher.status().message().find(path), absl::string_view::npos);
    // The key never appears in an error.
    EXPECT_EQ(cipher.status().message().find(hex.substr(0, 16)),
              absl::string_view::npos);
  }
}

TEST_F(PayloadCipherTest, MissingKeyFileIsAnError) {
  auto cipher = PayloadCipher::FromKeyFile(
      sild::testing::MakeTempDir("payload-cipher") + "/absent.key");
  EXPECT_EQ(cipher.status().code(), absl::StatusCode::kNotFound);
}

TEST_F(PayloadCipherTest, RawKeyMustBeThirtyTwoBytes) {
  for (size_t size : {0, 16, 31, 33, 64}) {
    EXPECT_EQ(PayloadCipher::FromKey(std::string(size, 'k')).status().code(),
              absl::StatusCode::kInvalidArgument)
        << size;
  }
}

}  // namespace
}  // namespace sild
