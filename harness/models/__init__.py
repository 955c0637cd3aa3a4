"""Encoders and heads: loading an encoder by hub id, local folder or the offline wheel, encoding
texts (``encoders``), a token task's words and pairs as vectors (``words``), and the frozen
protocol's heads (``heads``)."""
