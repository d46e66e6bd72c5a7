"""Reports (DESIGN §8): statistics in the form the offices report them, the two ledgers, Excel."""
