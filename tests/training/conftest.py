"""The training tests use tiny networks: one thread is as fast as two for them and
does not spin against the other processes sharing the machine's cores."""

import pytest


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
