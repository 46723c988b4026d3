"""The tables the store holds beside the contract's inputs: what a run writes.

- `output_tables`: their declaration, as data.
- `migrations`: the ordered migrations that create and upgrade them.
- `outputs`: their only writers, by column name.
"""
