// Package providertest holds what tests need to stand in for cloud
// providers: their wire formats (AWS event streams) written with the
// providers' own libraries, and fake endpoints that verify what the real
// ones verify.
package providertest
