"""The application object: tasks, settings and the factories for clients and workers.

The modules: `application` (`App`: what an app declares, the handles on Redis),
`connections` (`AppConnections`, App's base: connections, clients, locks),
`task` (`Task`, what `@app.task` returns). Import from here: every name below.
"""

from chronoq.core.startup import collector_paused

with collector_paused():  # a large import: chronoq.core.startup says why
    from chronoq.app.application import App, Hook, ScheduleErrorHandler
    from chronoq.app.connections import AppConnections
    from chronoq.app.task import ExceptionSpec, Task

__all__ = ["App", "AppConnections", "ExceptionSpec", "Hook", "ScheduleErrorHandler", "Task"]
