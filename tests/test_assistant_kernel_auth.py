"""Reading a kernel's variable runs code in it: it needs permission to execute in kernels."""

import pytest
from jupyter_server.auth.authorizer import Authorizer

from datadive_testing import assert_error, base_config


class NoKernelExecute(Authorizer):
    def is_authorized(self, handler, user, action, resource):
        return not (resource == "kernels" and action == "execute")


class AsyncNoKernelExecute(Authorizer):
    """The same answers from a coroutine (jupyter_server awaits ``is_authorized``; so must Datadive)."""

    async def is_authorized(self, handler, user, action, resource):
        return not (resource == "kernels" and action == "execute")


@pytest.fixture(params=[NoKernelExecute, AsyncNoKernelExecute], ids=["sync", "async"])
def jp_server_config(jp_data_dir, request):
    return base_config(jp_data_dir, ServerApp={"authorizer_class": request.param})


async def test_kernel_source_needs_execute_permission(api, jp_serverapp):
    kid = await jp_serverapp.kernel_manager.start_kernel()
    try:
        r = await api("POST", "assistant", "profile", body={"source": {"kernel_id": kid, "variable": "df"}})
        assert_error(r, 403, "kernel_forbidden", [])
        table = {"columns": ["y"], "rows": [[1.0], [2.0], [3.0]]}
        ok = await api("POST", "assistant", "profile", body={"source": {"table": table}})
        assert ok.status == 200, ok.text  # other sources need no kernel permission
    finally:
        await jp_serverapp.kernel_manager.shutdown_kernel(kid, now=True)
