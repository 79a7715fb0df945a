"""The set-level views, one module each (confusion, where each class looks, the embedding,
scores over the set, a second model, the mistakes), over the lifecycle in
camview.sets.views.base; camview.sets.view_registry lists them for `camview evaluate`, the
report and the window.
"""
