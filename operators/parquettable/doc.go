// Package parquettable reads the static tables of operators.Enrich from
// Parquet files. It is a package of its own so that the operators package
// stays free of the Parquet libraries (see pipeline's TestImportBoundaries).
package parquettable
