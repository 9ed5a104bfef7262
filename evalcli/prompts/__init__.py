"""Prompt files: judge rubrics and custom prompt evaluators.

A prompt file is YAML front matter between two ``---`` lines, then a body of role
sections. Two formats are read by the same loader:

* **evalcli format** (the built-in rubrics in ``prompts/*.prompty``): the front matter has
  an ``output`` block. Unknown keys are errors.

  .. code-block:: yaml

      ---
      name: relevance
      version: 1
      description: How well the response answers the query.
      inputs:
        query: {type: string, description: The user's question.}
        response: {type: string}
        context: {type: string, optional: true}   # absent -> renders empty, falsy in {% if %}
      model:
        parameters: {temperature: 0, max_tokens: 800, response_format: {type: json_object}}
      output:
        kind: score        # score | label
        min: 1             # scores only
        max: 5
        threshold: 3       # optional default pass threshold
        direction: higher  # higher | lower is better; labels must say it: higher = true is
                           # the good outcome, lower = true means a problem was found
        # details: [a, b]  # labels only: boolean keys expected under "details"
      ---
      system:
      ...rubric...
      user:
      <query>
      {{ query }}
      </query>

* **Prompty format** (files users already have): no ``output`` block. ``model``
  (``api``, ``configuration``, ``parameters``), ``sample``, ``outputs``, ``template``,
  ``authors``, ``tags`` are accepted. ``inputs`` may map names to declarations
  (``{type: string, default: ...}``; a ``default`` makes the input optional) or to sample
  values (``query: What is the capital of France?``); sample values are kept as samples and
  never used as defaults, so those inputs are required. The output spec then comes from the
  config, merged with :meth:`PromptFile.with_output`; an ``outputs.score`` declared ``int``,
  ``integer``, ``number``, ``float`` or ``double`` is kept as :attr:`PromptFile.declared_score`
  (a score without a range).

In both formats ``model.parameters.response_format`` must be a mapping whose ``type`` the
chat API accepts (``text``, ``json_object``, ``json_schema``); ``json``, which promptflow
accepts, is stored as ``json_object``. Any other type is a load error at its line.

Body: a line holding only ``system:``, ``developer:``, ``user:`` or ``assistant:``
(case-insensitive, optionally preceded by ``#``) starts a message. The body is split into
sections *before* rendering, and each section is a separate sandboxed Jinja template with
strict undefined variables, so row data can never start a new message. ``{{ x }}`` of a
dict or list renders as JSON; ``None`` renders as empty text.
"""

from __future__ import annotations

from ._builtin import builtin_prompt_dir, builtin_prompt_names, builtin_prompt_path
from ._errors import (
    BuiltinPromptNotFoundError,
    OutputSpecError,
    PromptError,
    PromptFileError,
    PromptRenderError,
)
from ._lint import lint, used_variables
from ._loader import load_prompt
from ._model import DeclaredScore, InputDecl, LintProblem, OutputSpec, PromptFile, Section

__all__ = [
    "BuiltinPromptNotFoundError",
    "DeclaredScore",
    "InputDecl",
    "LintProblem",
    "OutputSpec",
    "OutputSpecError",
    "PromptError",
    "PromptFile",
    "PromptFileError",
    "PromptRenderError",
    "Section",
    "builtin_prompt_dir",
    "builtin_prompt_names",
    "builtin_prompt_path",
    "lint",
    "load_prompt",
    "used_variables",
]
