// Package certs creates the PEM bundles lockd-mcp uses for mTLS over TCP:
// a certificate authority, server bundles (certificate with the serverAuth
// extended key usage and the host names and IPs as SANs, its key, the CA)
// and client bundles (certificate with the clientAuth usage, its key, the
// CA). A bundle is one file, the format the lockd SDK's WithBundlePath
// reads; LoadServerTLS turns a server bundle into a tls.Config that
// requires client certificates from the same CA.
//
// Keys are ECDSA P-256. The CA key stays in its own 0600 file next to the
// CA certificate; bundles are written 0600 because they hold a private key.
package certs
