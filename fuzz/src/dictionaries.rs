//! Per-target dictionaries: the keywords, field names and values each parser knows, which
//! the mutator inserts and substitutes.

/// Schema TOML: fields, dtype and optimizer names, table syntax.
#[rustfmt::skip]
pub const SCHEMA_WORDS: &[&str] = &[
    "name", "dim", "dtype", "optimizer", "zipf", "feature", "cardinality", "weight", "f32",
    "f16", "bf16", "int8", "none", "sgd", "adagrad", "rowwise-adagrad", "adam", " = ",
    "\n[[feature]]\n", "\nname = \"x\"\ncardinality = 5\n", "\n[feature]\n", "[1, 2]",
    "{ a = 1 }", "1.5", "'''", "\"\"\"", "\"18446744073709551615\"", "\" 1_0 \"",
];

/// Plan TOML: fields, families, combiners, tables and seed partition files.
#[rustfmt::skip]
pub const PLAN_WORDS: &[&str] = &[
    "version", "name", "dtype", "optimizer", "totals", "planner", "feature", "table", "params",
    "weight_bytes", "optimizer_bytes", "bytes", "full_bytes", "scheme", "m", "radices",
    "moduli", "partitions", "combiner", "predicted_loss", "rows", "dim", "cardinality",
    "budget_bytes", "method", "lower_bound", "quality_model", "full", "hash", "qr",
    "mixed-radix", "crt", "explicit", "concat", "add", "mult", "f32", "f16", "bf16", "int8",
    "none", "sgd", "adagrad", "rowwise-adagrad", "adam", "\n[[feature]]\n",
    "\n[[feature.table]]\n", "\n[totals]\n", "\n[planner]\n", "three-by-three.txt",
    "single.txt", "comments.txt", "/", "..", "[1, 2]", "[]",
];

/// Plan JSON: quoted keys and values, JSON punctuation.
#[rustfmt::skip]
pub const JSON_WORDS: &[&str] = &[
    "\"version\": 1", "\"feature\": [", "\"table\": [", "\"totals\": {", "\"planner\": {",
    "\"scheme\": ", "\"m\": ", "\"radices\": [", "\"moduli\": [", "\"partitions\": ",
    "\"combiner\": ", "\"rows\": ", "\"params\": ", "\"bytes\": ", "\"full\"", "\"hash\"",
    "\"qr\"", "\"mixed-radix\"", "\"crt\"", "\"explicit\"", "\"mult\"", "\"add\"", "\"concat\"",
    "\"int8\"", "\"adam\"", "\"three-by-three.txt\"", "null", "true", "[", "]", "{", "}", ",",
    ": ", "1e2", "-0.0",
];

/// Partition files: ids at the u64 edge, comments, separators.
#[rustfmt::skip]
pub const PARTITION_WORDS: &[&str] = &[
    "#", " ", "\t", "\n", "\r\n", "0", "1", "2", "7", "18446744073709551614",
    "18446744073709551615", "# comment\n", "\u{a0}", "+1", "1 2 3\n",
];

/// Byte sizes: every unit, ambiguous ones and decimal forms.
#[rustfmt::skip]
pub const BYTES_WORDS: &[&str] = &[
    "B", "b", "kB", "KB", "MB", "GB", "TB", "PB", "EB", "KiB", "MiB", "GiB", "TiB", "PiB",
    "EiB", "k", "m", "g", "t", "ki", "iB", ".", "_", " ", "1.5", "0.5", "16", "15.999",
    "0000000000000000000000000000001",
];

/// Calibration TOML: fields, families and combiners.
#[rustfmt::skip]
pub const CALIBRATION_WORDS: &[&str] = &[
    "version", "source", "coefficient", "family", "combiner", "alpha", "beta", "qr",
    "mixed-radix", "crt", "hash", "full", "mult", "add", "concat", "\n[[coefficient]]\n",
    "\nfamily = \"crt\"\ncombiner = \"add\"\nalpha = 1e-3\n", "1e-300", "-0.0",
];

/// Sweep results JSON: run and feature fields, method names.
#[rustfmt::skip]
pub const RESULTS_WORDS: &[&str] = &[
    "\"version\": 1", "\"schema\": ", "\"data\": ", "\"runs\": [", "\"method\": ",
    "\"budget_bytes\": ", "\"bytes\": ", "\"params\": ", "\"valid_logloss\": ",
    "\"valid_accuracy\": ", "\"valid_auc\": ", "\"examples_per_sec\": ", "\"seed\": ",
    "\"features\": [", "\"name\": ", "\"family\": ", "\"combiner\": ", "\"tables\": ",
    "\"compression\": ", "\"weight\": ", "\"full\"", "\"searched\"", "\"qr-mult\"", "\"hash\"",
    "\"only-crt-add\"", "\"qr\"", "\"crt\"", "\"mixed-radix\"", "\"mult\"", "\"add\"",
    "\"concat\"", "null", "[", "]", "{", "}", ",", "1e300", "-1e300",
];

/// TSV/CSV data: the fuzz features a, b, c, labels and separators.
#[rustfmt::skip]
pub const TABLE_WORDS: &[&str] = &[
    "label", "a", "b", "c", "extra", "\t", ",", "\n", "\r\n", "0", "1", "0.5", "-0", "1e-3",
    "NaN", "inf", " 1 ", "label\ta\tb\tc\n", "label,a,b,c\n", "4294967294", "999",
];

/// Criteo data: hex categories, dense integers, empty fields.
#[rustfmt::skip]
pub const CRITEO_WORDS: &[&str] = &[
    "\t", "\n", "0", "1", "-1", "68fd1e64", "80e26c9b", "fb936136", "", "\t\t", "-5",
    "9223372036854775807", "9223372036854775808",
];

/// One-word option values: baselines, methods, families, formats.
#[rustfmt::skip]
pub const VALUE_WORDS: &[&str] = &[
    "full", "qr:", "hash:", "qr:4", "hash:0", ":", "searched", "qr-mult", "only-",
    "only-crt-add", "only-mixed-radix-concat", "only-hash-mult", "qr", "crt", "mixed-radix",
    "hash", "mult", "add", "concat", "json", "toml", "pytorch", "torchrec", "dlrm", "f32",
    "int8", "rowwise-adagrad", "adam", "-",
];

/// Vocabulary files and manifests.
pub const VOCAB_WORDS: &[&str] = &[
    "id\tvalue\tcount\tpositives\n",
    "\t",
    "\n",
    "\\t",
    "\\n",
    "\\\\",
    "\\x",
    "18446744073709551615",
    "version = 1\n",
    "min_count = 2\n",
    "[[feature]]\n",
    "name = \"C1\"\n",
    "file = \"C1.tsv\"\n",
    "ids = 0\n",
    "ids = 3\n",
    "fingerprint = \"0\"\n",
    "# embplan vocabulary\n",
];

/// .npy headers.
pub const NPY_WORDS: &[&str] = &[
    "\u{93}NUMPY",
    "\u{1}\u{0}",
    "\u{2}\u{0}",
    "{'descr': '<i8', 'fortran_order': False, 'shape': (3, 2), }",
    "'<i4'",
    "'<f4'",
    "'|b1'",
    "'>i8'",
    "'<u8'",
    "True",
    "(0,)",
    "(18446744073709551615, 2)",
    "(2, 2, 2)",
];

/// Parquet structure.
pub const PARQUET_WORDS: &[&str] = &[
    "PAR1",
    "\u{0}\u{0}\u{0}\u{0}",
    "\u{15}",
    "\u{19}",
    "\u{1c}",
    "label",
];
