"""The after-store pipeline: the steps that run on every batch of newly stored messages.

A batch is stored (:mod:`.writer`), then each step of the pipeline (:mod:`.registry`: matching,
then webhooks; sorting, support triage and calendar matching add theirs) runs on its message
ids, in order. What a step has not done yet is kept in the database (:mod:`.backlog`), so a
step that raised, or a run killed after storing, is caught up later (:mod:`.runner`).
"""
