"""Distributed training on Ray (seed 003, with Ray instead of its home-made protocol): the cluster the
job system's ``ray`` backend joins or starts (cluster), what a task needs of a worker (requirements),
an expert's LoRA training data-parallel on Ray Train (training: the driver; data_parallel: each
worker; board: what they say to each other), the workers' view and events (service, assignments),
and `embodied worker join` (cli). Ray is imported only when the ray backend is used."""
