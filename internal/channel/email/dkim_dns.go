package email

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"

	"github.com/kith-scrm/kith/internal/kith"
)

// GenerateDKIMKey makes a new 2048-bit RSA key (what every mailbox
// provider verifies) and returns it as PKCS#8 PEM.
func GenerateDKIMKey() (string, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", fmt.Errorf("email: dkim: generate a key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return "", fmt.Errorf("email: dkim: encode the key: %w", err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), nil
}

// DNSRecord returns the DNS TXT record that publishes key's public half
// for domain and selector: its name (selector._domainkey.domain) and its
// value (v=DKIM1; k=rsa; p=…).
func DNSRecord(domain, selector string, key crypto.Signer) (name, value string, err error) {
	k := "rsa"
	var pub []byte
	switch pk := key.Public().(type) {
	case *rsa.PublicKey:
		if pub, err = x509.MarshalPKIXPublicKey(pk); err != nil {
			return "", "", fmt.Errorf("email: dkim: encode the public key: %w", err)
		}
	case ed25519.PublicKey:
		k, pub = "ed25519", []byte(pk)
	default:
		return "", "", kith.Errorf(kith.EINVALID, "email: dkim: the key must be RSA or Ed25519, not %T", key)
	}
	return selector + "._domainkey." + domain, "v=DKIM1; k=" + k + "; p=" + base64.StdEncoding.EncodeToString(pub), nil
}
