"""Eager-PyTorch peers of fsgen's training steps, for bench/peer_compare.py (torch: the `bench` extra only).

Each peer module builds the same networks, loss, augmentation and optimizer as the fsgen step it
mirrors and exposes `build(**row) -> (step, sync)`: `step(i)` runs training step i the way a PyTorch
user would write it (eager, autograd, torch.optim), `sync()` waits for it. bench/peers/run.py times a
peer in its own process with the same warm-up and step count as bench/step_speed.py.
"""
