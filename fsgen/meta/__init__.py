"""Meta-learning: MAML (maml.py), ProtoNets (protonets.py), the form over a meta-batch's tasks
(over_tasks.py), the learner the LASIUM methods train (learner.py) and LASIUM's latent-space task codes
(latent_tasks.py)."""
