"""The Datadive extension application: configuration, services, routes."""

from __future__ import annotations

import getpass
import os
import posixpath

from jupyter_core.paths import jupyter_data_dir
from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Enum, Float, Int, List, Set, Unicode, default, validate

CONTENTS_EVENTS = "https://events.jupyter.org/jupyter_server/contents_service/v1"
# The first generation's collection threshold with gc_tuning (Python's default: 700).
GC_FIRST_THRESHOLD = 20_000


class DatadiveApp(ExtensionApp):
    """Datadive: cell templates, projects and the statistical-test assistant."""

    name = "datadive_ext"
    description = "Datadive: cell templates, projects and a statistical-test assistant"
    load_other_extensions = True

    db_path = Unicode(
        "",
        config=True,
        help="""SQLite file of the Datadive store. Empty (the default) means
        `datadive/datadive.sqlite` in the Jupyter data directory, computed when the
        extension starts. `:memory:` keeps everything in memory (lost on stop).""",
    )
    template_folders = List(
        Unicode(),
        default_value=[],
        config=True,
        help="""Folders of template documents (`*.json`, one template each) offered
        read-only as the `path` source, e.g. an organisation's shared library. Empty
        (the default): none. A file whose id is already taken by a built-in or user
        template is skipped with a warning. The folders are listed at most every
        0.5 s; a changed file is read and validated in the background, and requests
        see it once that is done (until then, the previous state). Formerly
        `template_paths`, renamed without an alias (the project is 0.x) because
        ExtensionApp has a Jinja trait of that name.""",
    )
    projects_dir = Unicode(
        "projects",
        config=True,
        help="""Folder (a path in the contents root, '/'-separated) where new
        projects are created, one sub-folder each. Empty means the root itself.""",
    )
    max_body_bytes = Int(
        2 * 1024 * 1024,
        config=True,
        help="Largest request body accepted by the Datadive API, in bytes (larger: 413).",
    )
    db_busy_timeout = Float(
        1.0, config=True,
        help="Seconds to wait for a lock held by another process on the SQLite file before answering 503 with Retry-After.",
    )
    default_page_size = Int(50, config=True, help="Items per page when a list request gives no `limit`.")
    max_page_size = Int(500, config=True, help="Largest `limit` a list request may ask for (larger: 400).")
    users = Enum(
        ["auto", "single", "multi"],
        default_value="auto",
        config=True,
        help="""How requests map to Datadive users. `single`: every authenticated
        request acts as `owner_name`, who owns everything (a personal server, where
        the token identifies no one). `multi`: the server's identity provider names
        the user (JupyterHub, a custom IdentityProvider). `auto` (default) is
        `single` with jupyter_server's own token/password identity providers and
        `multi` with any other.""",
    )
    owner_name = Unicode(
        config=True,
        help="""The user name Datadive records in single-user mode. Default: the
        JupyterHub user ($JUPYTERHUB_USER) or the operating-system user.""",
    )
    admin_users = Set(
        Unicode(),
        config=True,
        help="""Users who may change or retire any user template (besides its
        author). Default: the server owner ($JUPYTERHUB_USER, or owner_name).""",
    )

    assistant_full_read_bytes = Int(
        64 * 1024 * 1024,
        config=True,
        help="""Data files up to this size are read whole by the assistant; larger
        CSV / TSV / Parquet files are sampled while streaming (see
        assistant_sample_rows), other formats are refused (413).""",
    )
    assistant_sample_rows = Int(200_000, config=True, help="Rows the assistant samples from a large data file.")
    assistant_kernel_timeout = Float(
        30.0, config=True, help="Seconds the assistant waits for a kernel to answer before giving up (504)."
    )
    switch_interval = Float(
        0.001,
        config=True,
        help="""The interpreter's thread switch interval (`sys.setswitchinterval`)
        that Datadive sets when it starts, in seconds, if it is still Python's
        default (0.005): how long the event loop may wait for the interpreter lock
        while a worker thread parses, renders or serialises. 0 leaves it alone.
        Process-wide; see docs/server.md.""",
    )
    gc_tuning = Bool(
        True,
        config=True,
        help="""Tune the cyclic garbage collector for a server (process-wide): the
        objects made at start-up are frozen (`gc.freeze()`) once the server has
        started, and the first generation's threshold is raised from Python's 700
        to 20,000 allocations while it is still the default. A full collection holds
        the interpreter lock; with 1,000-cell notebooks in memory it stalled the
        event loop for about 160 ms several times a second (docs/performance.md).""",
    )
    notebook_direct_bytes = Int(
        256 * 1024,
        config=True,
        help="""Notebook files of at least this many bytes, on jupyter_server's own
        file contents manager without save hooks, are read and written by cell
        operations as text, with the parsing, validation and signing done in the
        worker pool rather than on the event loop (docs/server.md). Smaller files,
        and every notebook on any other contents manager, go through the contents
        manager's whole-notebook get / save.""",
    )
    notebook_templates_folder = Unicode(
        "templates",
        config=True,
        help="""Folder (a path in the contents root, '/'-separated) whose `.ipynb`
        files are notebook templates (kind `notebook`), besides those in
        template_folders. Empty: none from the contents.""",
    )
    max_concurrent_runs = Int(
        2, config=True,
        help="Headless runs executing at once; further runs wait in a queue (status `queued`).",
    )
    max_queued_runs = Int(
        100, config=True,
        help="Runs that may wait in the queue; beyond it a new run is refused (503 `run_queue_full`, Retry-After).",
    )
    run_timeout = Float(
        3600.0, config=True,
        help="Seconds a headless run may take when its request gives no `timeout` (then it fails, `timeout`).",
    )
    sampledb_folder = Unicode(
        "sampledb",
        config=True,
        help="""Folder (a path in the contents root, '/'-separated) where notebooks
        made through the SampleDB-compatible endpoint (`datadive/templates/t/...`)
        are created. Nothing is written outside it.""",
    )
    sampledb_link_max_age = Int(
        900, config=True,
        help="Seconds a SampleDB confirmation page stays valid (its params and destination are signed).",
    )
    demo_project = Bool(
        False,
        config=True,
        help="""Create a demo project (a small generated data file and a notebook
        built from templates) for the owner when they have no project yet. `make
        run` turns it on.""",
    )

    @default("owner_name")
    def _owner_name_default(self):
        if os.environ.get("JUPYTERHUB_USER"):
            return os.environ["JUPYTERHUB_USER"]
        try:
            return getpass.getuser()
        except Exception:
            return "owner"

    @default("admin_users")
    def _admin_users_default(self):
        return {self.owner_name}

    @validate("projects_dir", "notebook_templates_folder", "sampledb_folder")
    def _check_projects_dir(self, proposal):
        value = proposal["value"].strip().strip("/")
        if value and (value.startswith(".") or ".." in value.split("/") or "\\" in value or "\x00" in value):
            raise ValueError(f"{proposal['trait'].name} must be a plain relative folder, not {value!r}")
        return posixpath.normpath(value) if value else ""

    # -- life cycle ------------------------------------------------------------------

    def resolved_db_path(self) -> str:
        if self.db_path:
            return self.db_path
        return os.path.join(jupyter_data_dir(), "datadive", "datadive.sqlite")

    def initialize_settings(self):
        from .services.projects import ProjectService
        from .services.templates import TemplateService
        from .store import Store

        self._tune_interpreter()
        self.store = Store(self.resolved_db_path(), busy_timeout=self.db_busy_timeout)
        self.store.migrate()
        self.single_user = self._single_user()
        self.templates = TemplateService(self.store, self.template_folders, self.log, admins=self.admin_users)
        self.templates.start()  # the first read of the template folders, in the worker pool
        if "template_paths" in (self.config.get("DatadiveApp") or {}):
            self.log.warning(
                "DatadiveApp.template_paths is ExtensionApp's Jinja setting, not a template folder: "
                "the folders of template documents are DatadiveApp.template_folders (renamed in 0.x)"
            )
        self.projects = ProjectService(
            self.store,
            self.serverapp.contents_manager,
            getattr(self.serverapp, "kernel_spec_manager", None),
            projects_dir=self.projects_dir,
            log=self.log,
            kernel_manager=getattr(self.serverapp, "kernel_manager", None),
        )
        from .services.cells import CellService

        self.cells = CellService(self.store, self.projects, self.templates, self.log, ydoc_app=self._ydoc_app,
                                 direct_bytes=self.notebook_direct_bytes)
        from .services.assistant import AssistantService

        self.assistant = AssistantService(
            self.projects, getattr(self.serverapp, "kernel_manager", None),
            full_read_bytes=self.assistant_full_read_bytes, sample_rows=self.assistant_sample_rows,
            kernel_timeout=self.assistant_kernel_timeout,
        )
        from .services.nbtemplates import NotebookTemplateService

        self.nbtemplates = NotebookTemplateService(
            self.serverapp.contents_manager, folder=self.notebook_templates_folder,
            template_folders=self.template_folders, log=self.log,
        )
        from .services.runs import RunService

        self.runs = RunService(
            self.store, self.projects, self.nbtemplates,
            max_concurrent=self.max_concurrent_runs, default_timeout=self.run_timeout, log=self.log,
            max_queued=self.max_queued_runs,
        )
        self.serverapp.event_logger.add_listener(schema_id=CONTENTS_EVENTS, listener=self._on_contents_event)
        self.log.info("Datadive store: %s (%s-user mode)", self.store.path, "single" if self.single_user else "multi")
        if self.demo_project:
            from tornado.ioloop import IOLoop

            IOLoop.current().add_callback(self._seed_demo)

    def _tune_interpreter(self) -> None:
        import sys

        if self.switch_interval > 0 and abs(sys.getswitchinterval() - 0.005) < 1e-9:
            sys.setswitchinterval(self.switch_interval)
            self.log.info("Datadive: interpreter switch interval %.4f s (was Python's default 0.005 s)", self.switch_interval)
        if self.gc_tuning:
            import gc

            threshold = gc.get_threshold()
            if threshold[0] == 700:  # still Python's default: nobody chose another
                gc.set_threshold(GC_FIRST_THRESHOLD, *threshold[1:])

    def _freeze_start_up_objects(self) -> None:
        """Everything the server made to start (modules, classes, extensions) out of the
        collector's sight: each full collection then scans only what requests made."""
        if self.gc_tuning:
            import gc

            gc.collect()
            gc.freeze()

    async def _seed_demo(self):
        from .demo import seed_demo

        try:
            await seed_demo(self.projects, self.owner_name, self.log)
        except Exception:
            self.log.exception("Datadive: the demo project could not be created")

    def initialize_handlers(self):
        from .handlers import routes

        self.handlers.extend(routes())

    async def _start_jupyter_server_extension(self, serverapp):
        # Journal entries left pending by a crash are settled in the background (and
        # lazily, per notebook, before anything reads or writes that notebook's journal).
        self.cells.start_recovery()
        # Runs left `running` or `queued` by a server that died are marked `interrupted`.
        await self.runs.start()
        self._freeze_start_up_objects()

    async def stop_extension(self):
        runs = getattr(self, "runs", None)
        if runs is not None:
            await runs.stop()  # running kernels are shut down; their runs end `interrupted`
        store = getattr(self, "store", None)
        if store is not None:
            store.close()

    def _ydoc_app(self):
        """jupyter-collaboration's document extension when it runs on this server, else None."""
        apps = self.serverapp.extension_manager.extension_apps.get("jupyter_server_ydoc")
        return next(iter(apps), None) if apps else None

    # -- users -------------------------------------------------------------------------

    def _single_user(self) -> bool:
        if self.users != "auto":
            return self.users == "single"
        from jupyter_server.auth.identity import IdentityProvider, PasswordIdentityProvider

        return type(self.serverapp.identity_provider) in (IdentityProvider, PasswordIdentityProvider)

    def acting_user(self, current_user) -> str:
        """The Datadive user name for the server's ``current_user``."""
        if self.single_user:
            return self.owner_name
        return current_user.username

    # -- events ----------------------------------------------------------------------

    async def _on_contents_event(self, logger, schema_id, data):
        if data.get("action") == "rename" and data.get("source_path") and data.get("path"):
            moved = await self.projects.follow_rename_async(data["source_path"], data["path"])
            if moved:
                self.log.info("Datadive: followed rename %s -> %s (%d project(s))", data["source_path"], data["path"], moved)
