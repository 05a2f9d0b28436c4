#include "gateway/audit/checkpoint.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <fstream>
#include <string>

#include "gateway/audit/canonical.h"
#include "gateway/base/errors.h"
#include "gtest/gtest.h"
#include "tests/gateway/audit/audit_test_util.h"

namespace sild::audit {
namespace {

using sild::v1::AuditCheckpoint;
using testing::Draft;
using testing::NewEd25519PrivateKeyPem;
using testing::TimeAt;

std::string PemOf(EVP_PKEY* key, bool private_key) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (private_key) {
    PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  } else {
    PEM_write_bio_PUBKEY(bio, key);
  }
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(size));
  BIO_free(bio);
  return pem;
}

// Verifies with plain OpenSSL calls, sharing no code with the verifier.
bool OpenSslVerifies(const std::string& public_pem, const AuditCheckpoint& cp) {
  BIO* bio =
      BIO_new_mem_buf(public_pem.data(), static_cast<int>(public_pem.size()));
  EVP_PKEY* key = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const std::string message = CanonicalCheckpoint(cp);
  const bool ok =
      key != nullptr &&
      EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, key) == 1 &&
      EVP_DigestVerify(
          ctx, reinterpret_cast<const unsigned char*>(cp.signature().data()),
          cp.signature().size(),
          reinterpret_cast<const unsigned char*>(message.data()),
          message.size()) == 1;
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(key);
  return ok;
}

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<CheckpointSigner> signer =
        CheckpointSigner::FromPem(NewEd25519PrivateKeyPem());
    ASSERT_TRUE(signer.ok()) << signer.status();
    signer_.emplace(*std::move(signer));
    for (int i = 1; i <= 3; ++i) chain_.Append(Draft(i)).IgnoreError();
  }

  absl::optional<CheckpointSigner> signer_;
  AuditChain chain_ = *AuditChain::Create("sild-1");
};

TEST_F(CheckpointTest, SignsTheHeadAndVerifies) {
  absl::StatusOr<AuditCheckpoint> cp =
      signer_->SignHead(chain_, TimeAt(1767225600), nullptr);
  ASSERT_TRUE(cp.ok()) << cp.status();
  EXPECT_EQ(cp->chain_id(), "sild-1");
  EXPECT_EQ(cp->sequence(), 3);
  EXPECT_EQ(cp->head_hash(), chain_.head_hash());
  EXPECT_TRUE(cp->previous_checkpoint_hash().empty());
  EXPECT_EQ(cp->signature().size(), 64u);
  EXPECT_EQ(cp->key_id(), signer_->key_id());
  EXPECT_TRUE(OpenSslVerifies(signer_->public_key_pem(), *cp));

  absl::StatusOr<CheckpointVerifier> verifier =
      CheckpointVerifier::FromPublicKeyPem(signer_->public_key_pem());
  ASSERT_TRUE(verifier.ok()) << verifier.status();
  EXPECT_TRUE(verifier->Verify(*cp).ok());
  EXPECT_EQ(verifier->key_id(), signer_->key_id());
  EXPECT_EQ(verifier->public_key_pem(), signer_->public_key_pem());
}

TEST_F(CheckpointTest, LinksToThePreviousCheckpoint) {
  AuditCheckpoint first = *signer_->SignHead(chain_, TimeAt(1), nullptr);
  chain_.Append(Draft(4)).IgnoreError();
  AuditCheckpoint second = *signer_->SignHead(chain_, TimeAt(2), &first);
  EXPECT_EQ(second.previous_checkpoint_hash(), CheckpointHash(first));
  EXPECT_EQ(CheckpointHash(first).size(), 32u);
  // The hash covers the signed fields only.
  AuditCheckpoint resigned = first;
  resigned.set_signature("other");
  EXPECT_EQ(CheckpointHash(resigned), CheckpointHash(first));
  resigned.set_sequence(2);
  EXPECT_NE(CheckpointHash(resigned), CheckpointHash(first));
}

TEST_F(CheckpointTest, KeyIdIsSha256OfTheDerPublicKey) {
  BIO* bio = BIO_new_mem_buf(signer_->public_key_pem().data(), -1);
  EVP_PKEY* key = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  ASSERT_NE(key, nullptr);
  unsigned char* der = nullptr;
  const int size = i2d_PUBKEY(key, &der);
  unsigned char digest[32];
  unsigned int digest_size = 0;
  EVP_Digest(der, size, digest, &digest_size, EVP_sha256(), nullptr);
  OPENSSL_free(der);
  EVP_PKEY_free(key);
  EXPECT_EQ(signer_->key_id(),
            std::string(reinterpret_cast<char*>(digest), digest_size));
}

TEST_F(CheckpointTest, AnotherKeyOrAChangedFieldFailsVerification) {
  AuditCheckpoint cp = *signer_->SignHead(chain_, TimeAt(1), nullptr);
  CheckpointSigner other =
      *CheckpointSigner::FromPem(NewEd25519PrivateKeyPem());
  CheckpointVerifier wrong_key =
      *CheckpointVerifier::FromPublicKeyPem(other.public_key_pem());
  absl::Status status = wrong_key.Verify(cp);
  EXPECT_EQ(ErrorReason(status), "CHECKPOINT_SIGNATURE_INVALID") << status;

  CheckpointVerifier right =
      *CheckpointVerifier::FromPublicKeyPem(signer_->public_key_pem());
  AuditCheckpoint moved = cp;
  moved.set_sequence(2);
  EXPECT_EQ(ErrorReason(right.Verify(moved)), "CHECKPOINT_SIGNATURE_INVALID");
  AuditCheckpoint later = cp;
  later.mutable_time()->set_seconds(2);
  EXPECT_FALSE(right.Verify(later).ok());
  AuditCheckpoint renamed = cp;
  renamed.set_key_id(other.key_id());
  EXPECT_EQ(ErrorReason(right.Verify(renamed)), "KEY_MISMATCH");
  AuditCheckpoint signed_by_other = *other.Sign(cp);
  EXPECT_EQ(ErrorReason(right.Verify(signed_by_other)),
            "CHECKPOINT_SIGNATURE_INVALID");
}

TEST_F(CheckpointTest, RejectsKeysThatAreNotEd25519) {
  EVP_PKEY* ec = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  ASSERT_NE(ec, nullptr);
  absl::StatusOr<CheckpointSigner> signer =
      CheckpointSigner::FromPem(PemOf(ec, true));
  EXPECT_EQ(ErrorReason(signer.status()), "NOT_ED25519");
  EXPECT_NE(signer.status().message().find("EC key"), absl::string_view::npos)
      << signer.status();
  EXPECT_EQ(
      ErrorReason(
          CheckpointVerifier::FromPublicKeyPem(PemOf(ec, false)).status()),
      "NOT_ED25519");
  EVP_PKEY_free(ec);

  EXPECT_EQ(ErrorReason(CheckpointSigner::FromPem("not a key").status()),
            "INVALID_KEY");
  // A public key is not a signing key.
  EXPECT_FALSE(CheckpointSigner::FromPem(signer_->public_key_pem()).ok());
  EXPECT_EQ(
      CheckpointSigner::FromPemFile("/nonexistent/sild.pem").status().code(),
      absl::StatusCode::kNotFound);
}

TEST_F(CheckpointTest, LoadsTheSigningKeyFromAFile) {
  const std::string pem = NewEd25519PrivateKeyPem();
  const std::string path = testing::TempPath("signing.pem");
  std::ofstream(path) << pem;
  absl::StatusOr<CheckpointSigner> from_file =
      CheckpointSigner::FromPemFile(path);
  ASSERT_TRUE(from_file.ok()) << from_file.status();
  EXPECT_EQ(from_file->key_id(), CheckpointSigner::FromPem(pem)->key_id());
}

TEST_F(CheckpointTest, SignRejectsIncompleteDrafts) {
  AuditCheckpoint draft;
  draft.set_chain_id("sild-1");
  draft.set_sequence(1);
  draft.set_head_hash("short");
  *draft.mutable_time() = TimeAt(1);
  EXPECT_EQ(ErrorField(signer_->Sign(draft).status()), "head_hash");
  draft.set_head_hash(std::string(32, 'h'));
  draft.clear_time();
  EXPECT_EQ(ErrorField(signer_->Sign(draft).status()), "time");
}

TEST(CheckpointPolicyTest, CutsAfterNRecordsOrTWhicheverFirst) {
  const absl::Time t0 = absl::FromUnixSeconds(1767225600);
  CheckpointPolicy policy =
      *CheckpointPolicy::Create(100, absl::Milliseconds(5000));
  EXPECT_FALSE(policy.ShouldCut(99, t0, t0 + absl::Milliseconds(4999)));
  EXPECT_TRUE(policy.ShouldCut(100, t0, t0));
  EXPECT_TRUE(policy.ShouldCut(1, t0, t0 + absl::Milliseconds(5000)));
  // Nothing new since the last checkpoint: nothing to sign, however long.
  EXPECT_FALSE(policy.ShouldCut(0, t0, t0 + absl::Hours(1)));
  // A clock stepping back does not trigger a cut.
  EXPECT_FALSE(policy.ShouldCut(1, t0, t0 - absl::Seconds(10)));
  EXPECT_EQ(policy.Deadline(t0), t0 + absl::Seconds(5));
}

TEST(CheckpointPolicyTest, DefaultsAndConfig) {
  CheckpointPolicy defaults =
      *CheckpointPolicy::Create(0, absl::ZeroDuration());
  EXPECT_EQ(defaults.every_records(), 1000);
  EXPECT_EQ(defaults.every(), absl::Seconds(5));

  sild::config::v1::AuditConfig config;
  config.set_checkpoint_every_records(10);
  config.set_checkpoint_every_ms(250);
  CheckpointPolicy configured = *CheckpointPolicy::FromConfig(config);
  EXPECT_EQ(configured.every_records(), 10);
  EXPECT_EQ(configured.every(), absl::Milliseconds(250));

  config.set_checkpoint_every_records(-1);
  EXPECT_EQ(ErrorField(CheckpointPolicy::FromConfig(config).status()),
            "audit.checkpoint_every_records");
  EXPECT_FALSE(CheckpointPolicy::Create(1, absl::Milliseconds(-1)).ok());
}

}  // namespace
}  // namespace sild::audit
