"""The lab's own worker: runs `protocols.set_status` jobs (the bulk status update) against the
app's database, through tarea's external-worker API."""
from __future__ import annotations

import tarea

ESTADOS = {"recibido", "en proceso", "listo", "enviado", "archivado"}


def make_worker(lab) -> tarea.Worker:
    worker = tarea.Worker(lab.client, queues=["app"], concurrency=4, lease_ms=10_000, poll_wait_ms=1_000)

    @worker.task("protocols.set_status")
    def set_status(job: tarea.WorkerJob):
        estado = job.payload["estado"]
        if estado not in ESTADOS:
            raise tarea.Fatal("estado_invalido", f"estado desconocido: {estado}")
        p = lab.protocol(job.payload["protocolo"])
        lab.set_status(p["id"], estado)
        return {"protocolo": p["numero"], "estado": estado}

    return worker
