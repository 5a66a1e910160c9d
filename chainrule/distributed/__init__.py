"""Distributed training: communicators (MPI or single process), data-parallel replicas with bucketed,
overlapped gradient allreduce, a sharding sampler, checkpoint/resume across worker counts.

>>> from chainrule.distributed import get_communicator, DataParallelTrainer
>>> comm = get_communicator()          # MPI under `mpiexec -n 4 python script.py`, else single process
>>> trainer = DataParallelTrainer(model, loss_fn, optimizer, (X, y), batch_size=128, comm=comm,
...                               checkpoint="run/state.npz", checkpoint_every=100, resume=True)
>>> history = trainer.fit(epochs=5)    # rank 0 logs and writes the checkpoints

Low level: ``ddp = DistributedDataParallel(model, comm)``; ``loss.backward(); ddp.synchronize();
optimizer.step()`` (or ``DistributedOptimizer(optimizer, ddp)``), ``DistributedSampler`` with
``chainrule.data.DataLoader(sampler=...)``.  See docs/distributed.md.

spec: TRAIN-SGD-MODES, TRAIN-EPOCHS, SGD-MINIBATCH, OPT-SGD (p replicas with batch B/p take the step of one
process with batch B)
"""

from .comm import (
    Communicator,
    MPICommunicator,
    Request,
    SingleProcessCommunicator,
    WorkerLostError,
    get_communicator,
    launched_world_size,
    set_communicator,
)
from .ddp import CommStats, DistributedDataParallel, DistributedOptimizer, broadcast_parameters
from .sampler import DistributedSampler
from .trainer import (
    DataParallelTrainer,
    distributed_evaluate,
    load_training_state,
    rank0_print,
    save_training_state,
)

__all__ = [
    "Communicator", "SingleProcessCommunicator", "MPICommunicator", "Request", "WorkerLostError",
    "get_communicator", "set_communicator", "launched_world_size",
    "DistributedDataParallel", "DistributedOptimizer", "broadcast_parameters", "CommStats",
    "DistributedSampler", "DataParallelTrainer", "distributed_evaluate", "save_training_state",
    "load_training_state", "rank0_print",
]
