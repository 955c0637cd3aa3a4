"""The training protocols: fine-tuning an encoder with a classification head on texts
(``protocols``: Bogaert's and Zhou and Srikumar's presets, partial and truncated models) and on
a token task's items (``tokens``)."""
