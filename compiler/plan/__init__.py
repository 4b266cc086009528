"""Plans: make, render, save and apply them; state, receipts and stamps behind them."""
