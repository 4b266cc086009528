"""GitHub Actions target: pull-request, apply and monitor workflows per pipeline and environment.

Workflows are dumped from data. No spec value reaches a `run:` script: scripts read `env:` variables, and
values that GitHub would evaluate (`${{ ... }}`) are escaped. Every action is pinned to the commit of a
release tag, named in a trailing comment.
"""

from __future__ import annotations

import posixpath
from typing import Any

from mlform.compiler.artifacts.backend import AWS_KEYS, LOCK_TIMEOUT, backend_secret, shared, uses_s3
from mlform.compiler.artifacts.common import image, mlform_install, registry_host, step_secrets
from mlform.compiler.artifacts.render import dump_yaml, shquote
from mlform.specs.model.target_settings.github_actions import smokeable

from . import Context
from .docker import pins_file

__all__ = ["ACTIONS", "directory", "render"]

# action -> (commit of the release tag, tag)
ACTIONS: dict[str, tuple[str, str]] = {
    "actions/checkout": ("3d3c42e5aac5ba805825da76410c181273ba90b1", "v7.0.1"),
    "actions/setup-python": ("5fda3b95a4ea91299a34e894583c3862153e4b97", "v7.0.0"),
    "actions/github-script": ("3a2844b7e9c422d3c10d287c895573f7108da1b3", "v9.0.0"),
    "docker/setup-buildx-action": ("37fe631027851001ddb9b187196cc803df7f5f0e", "v4.3.0"),
    "docker/login-action": ("dbcb813823bdd20940b903addbd779551569679f", "v4.6.0"),
    "docker/build-push-action": ("53b7df96c91f9c12dcc8a07bcb9ccacbed38856a", "v7.3.0"),
    "aws-actions/configure-aws-credentials": ("a03048d87541d1d9fcf2ecf528a4a65ba9bd7838", "v5.0.0"),
}
_GLOB_SPECIALS = "\\*?+[]!"

_PLAN = """\
mlform plan "$MLFORM_SPEC" --env "$MLFORM_ENV" --format markdown > "$RUNNER_TEMP/mlform-plan.md"
cat "$RUNNER_TEMP/mlform-plan.md" >> "$GITHUB_STEP_SUMMARY"
"""
# The card of the version `registry.production` pins, when the registry's `production` alias holds another
_CARD = """\
mlform card "$MLFORM_SPEC" --env "$MLFORM_ENV" --promotion --format markdown --output "$RUNNER_TEMP/mlform-card.md"
if [ -s "$RUNNER_TEMP/mlform-card.md" ]; then
  cat "$RUNNER_TEMP/mlform-card.md" >> "$GITHUB_STEP_SUMMARY"
fi
"""
# The ML Test Score of the spec, and what the pull request changes in it
_READINESS = """\
mlform readiness "$MLFORM_SPEC" --env "$MLFORM_ENV" --format markdown --base "origin/$GITHUB_BASE_REF" \\
  > "$RUNNER_TEMP/mlform-readiness.md"
cat "$RUNNER_TEMP/mlform-readiness.md" >> "$GITHUB_STEP_SUMMARY"
"""
_COMMENT = """\
const fs = require('fs');
const marker = `<!-- mlform-plan ${process.env.MLFORM_PLAN_ID} -->`;
const read = (name) => {
  const file = `${process.env.RUNNER_TEMP}/${name}`;
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
};
const parts = [read('mlform-plan.md'), read('mlform-readiness.md'), read('mlform-card.md')];
const text = parts.filter(Boolean).join('\\n\\n');
const body = `${marker}\\n${text.slice(0, 60000)}`;
const { owner, repo } = context.repo;
const issue_number = context.issue.number;
const comments = await github.paginate(github.rest.issues.listComments, { owner, repo, issue_number, per_page: 100 });
const previous = comments.find((c) => c.user.type === 'Bot' && c.body.startsWith(marker));
if (previous) {
  await github.rest.issues.updateComment({ owner, repo, comment_id: previous.id, body });
} else {
  await github.rest.issues.createComment({ owner, repo, issue_number, body });
}
"""
_MONITOR = """\
set +e
mlform monitor "$MLFORM_SPEC" --env "$MLFORM_ENV"
status=$?
set -e
if [ "$status" -eq 3 ]; then
  echo "breach=true" >> "$GITHUB_OUTPUT"
  echo "::warning title=mlform monitor::drift or performance breach"
elif [ "$status" -ne 0 ]; then
  exit "$status"
fi
"""
_BOT = "github-actions[bot]"
_BOT_EMAIL = "41898282+github-actions[bot]@users.noreply.github.com"
_PR_ENV = {"GH_TOKEN": "${{ github.token }}", "GIT_AUTHOR_NAME": _BOT, "GIT_AUTHOR_EMAIL": _BOT_EMAIL,
           "GIT_COMMITTER_NAME": _BOT, "GIT_COMMITTER_EMAIL": _BOT_EMAIL}
_DISPATCH = """\
await github.rest.actions.createWorkflowDispatch({
  ...context.repo,
  workflow_id: process.env.MLFORM_APPLY_WORKFLOW,
  ref: context.ref,
  inputs: { reason: 'monitoring breach' },
});
"""
_ALERT = """\
echo "::error title=mlform monitor::drift or performance breach; see the log of the previous step"
exit 1
"""
_CRON_MACROS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
                "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}


def directory(ctx: Context) -> str:
    """`.github/workflows` under the output root."""
    return ".github/workflows"


def literal(value: str) -> str:
    """`value` with GitHub expression openers escaped, so GitHub never evaluates spec text."""
    return value.replace("${{", "${{ '${{' }}")


def glob_literal(path: str) -> str:
    """`path` as a paths-filter pattern matching itself: specials escaped, line breaks (which a pattern
    cannot hold) matched by `?`."""
    return "".join(f"\\{char}" if char in _GLOB_SPECIALS else "?" if char in "\r\n" else char for char in path)


def _uses(action: str) -> str:
    return f"{action}@{ACTIONS[action][0]}"


def _pin_comments(text: str) -> str:
    for action, (_, tag) in ACTIONS.items():
        text = text.replace(f"uses: {_uses(action)}\n", f"uses: {_uses(action)} # {tag}\n")
    return text


def _file(ctx: Context, kind: str) -> str:
    return f"mlform-{ctx.spec.name}-{ctx.spec.env}-{kind}.yml"


def _watched(ctx: Context) -> list[str]:
    """The spec, its data files, the generated files and these workflows: a change to any runs the checks."""
    layout, pipeline = ctx.layout, ctx.spec.pipeline
    paths = [glob_literal(layout.spec_path)]
    for source in pipeline.data.sources.values():
        data = getattr(source, "path", None)
        if data is not None:
            joined = posixpath.normpath(posixpath.join(layout.spec_dir, data))
            if not joined.startswith(("../", "/")) and joined != "..":
                paths.append(glob_literal(joined))
    out = "" if layout.out == "." else f"{glob_literal(layout.out)}/"
    paths.append(f"{out}deploy/{ctx.spec.name}/{ctx.spec.env}/**")
    paths.append(f"{out}.github/workflows/mlform-{ctx.spec.name}-{ctx.spec.env}-*.yml")
    return list(dict.fromkeys(paths))


def _setup(ctx: Context, history: bool = False) -> list[dict[str, Any]]:
    github = ctx.spec.pipeline.targets.github_actions
    assert github is not None
    checkout: dict[str, Any] = {"persist-credentials": False}
    if history:  # `mlform diff` compiles the base branch from git objects, so it needs them
        checkout["fetch-depth"] = 0
    return [
        {"name": "Check out", "uses": _uses("actions/checkout"), "with": checkout},
        {"name": "Set up Python", "uses": _uses("actions/setup-python"),
         "with": {"python-version": github.python_version}},
        _install_step(ctx),
    ]


def _install_step(ctx: Context) -> dict[str, Any]:
    """Install mlform as `runtime.mlform` says; a spec value reaches the script only through `env:`."""
    install = mlform_install(ctx, "checkout")
    if not install.custom:
        return {"name": "Install mlform", "run": f"python -m pip install {shquote(install.requirement)}\n"}
    return {"name": "Install mlform", "env": {"MLFORM_INSTALL": literal(install.requirement)},
            "run": 'python -m pip install "$MLFORM_INSTALL"\n'}


def _aws_role(ctx: Context) -> str | None:
    """The IAM role the jobs assume by OIDC for an s3 state backend, if the spec names one."""
    github = ctx.spec.pipeline.targets.github_actions
    return github.aws_role if github is not None and uses_s3(ctx) else None


def _job(ctx: Context, permissions: dict[str, str], steps: list[dict[str, Any]], history: bool = False,
         **extra: Any) -> dict[str, Any]:
    github = ctx.spec.pipeline.targets.github_actions
    assert github is not None
    env = {"MLFORM_SPEC": literal(ctx.layout.spec_path), "MLFORM_ENV": ctx.spec.env}
    setup = _setup(ctx, history)
    role = _aws_role(ctx)
    if role is not None:  # short-lived credentials for the s3 state backend, in the standard AWS variables
        permissions = {**permissions, "id-token": "write"}
        setup.append({"name": "Configure AWS credentials", "uses": _uses("aws-actions/configure-aws-credentials"),
                      "with": {"role-to-assume": literal(role), "aws-region": github.aws_region}})
    return {"runs-on": literal(github.runs_on), **extra, "permissions": permissions, "timeout-minutes": 60,
            "env": env, "steps": [*setup, *steps]}


def _backend_env(ctx: Context) -> dict[str, str]:
    """What the mlform commands need to reach a shared state backend: the postgres URL's secret, or the AWS
    keys and endpoint (secrets; the endpoint unset for AWS itself) and region, unless an OIDC role gives them."""
    found = backend_secret(ctx)
    if found is not None:
        return {found[0]: f"${{{{ secrets.{found[0]} }}}}"}
    if not uses_s3(ctx) or _aws_role(ctx) is not None:
        return {}
    github = ctx.spec.pipeline.targets.github_actions
    assert github is not None
    return {**{key: f"${{{{ secrets.{key} }}}}" for key in AWS_KEYS}, "AWS_REGION": github.aws_region}


def _secrets_env(ctx: Context) -> dict[str, str]:
    """The secrets the steps read, each from the repository secret named like its variable, and the backend's."""
    return {**{var: f"${{{{ secrets.{var} }}}}" for var in step_secrets(ctx)}, **_backend_env(ctx)}


def _with_env(step: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    """`step` with `env` added before its `run` (key order is the file's), or `step` itself when `env` is empty."""
    if not env:
        return step
    head = {key: value for key, value in step.items() if key != "run"}
    return {**head, "env": {**step.get("env", {}), **env}, "run": step["run"]}


def _workflow(name: str, on: dict[str, Any], concurrency: dict[str, Any], jobs: dict[str, Any],
              run_name: str | None = None) -> str:
    head = {"name": name, **({"run-name": run_name} if run_name else {})}
    doc = {**head, "on": on, "permissions": {}, "concurrency": concurrency, "jobs": jobs}
    return _pin_comments(dump_yaml(doc))


_SMOKE = {"name": "Fit the pipeline on a sample",
          "run": 'mlform validate "$MLFORM_SPEC" --env "$MLFORM_ENV" --smoke\n'}


def _pull_request(ctx: Context) -> str:
    layout, plan_id = ctx.layout, f"{ctx.spec.name}/{ctx.spec.env}"
    compile_check = 'mlform compile "$MLFORM_SPEC" --env "$MLFORM_ENV" --out "$MLFORM_OUT" --check'
    env = {"MLFORM_OUT": literal(layout.out)}
    if layout.templates is not None:
        compile_check += ' --templates "$MLFORM_TEMPLATES"'
        env["MLFORM_TEMPLATES"] = literal(layout.templates)
    backend = _backend_env(ctx)
    steps: list[dict[str, Any]] = [
        {"name": "Validate", "run": 'mlform validate "$MLFORM_SPEC" --env "$MLFORM_ENV" --format github\n'},
        *([_SMOKE] if smokeable(ctx.spec.pipeline.data) else []),
        {"name": "Check generated files are current", "env": env, "run": compile_check + "\n"},
        # read-only against the shared state: `plan`, `card` and `diff` never take the state lock
        _with_env({"name": "Plan", "run": _PLAN}, backend),
        {"name": "Readiness", "run": _READINESS},
        _with_env({"name": "Model card of a promotion", "run": _CARD}, backend),
        _with_env({"name": "Diff", "run": 'mlform diff "$MLFORM_SPEC" --env "$MLFORM_ENV"\n'}, backend),
        {"name": "Comment the plan", "if": "github.event.pull_request.head.repo.full_name == github.repository",
         "uses": _uses("actions/github-script"), "env": {"MLFORM_PLAN_ID": plan_id}, "with": {"script": _COMMENT}},
    ]
    job = _job(ctx, {"contents": "read", "pull-requests": "write"}, steps, history=True)
    group = f"mlform-pr-{ctx.spec.name}-{ctx.spec.env}-${{{{ github.event.pull_request.number }}}}"
    return _workflow(f"mlform {ctx.spec.name} ({ctx.spec.env}): pull request",
                     {"pull_request": {"paths": _watched(ctx)}},
                     {"group": group, "cancel-in-progress": True}, {"check": job})


def _image_steps(ctx: Context) -> list[dict[str, Any]]:
    """Log in, then build and push the images whose Dockerfiles the docker target writes."""
    pipeline = ctx.spec.pipeline
    host = registry_host(ctx)
    if host == "ghcr.io":
        login: dict[str, Any] = {"registry": host, "username": "${{ github.actor }}",
                                 "password": "${{ secrets.GITHUB_TOKEN }}"}
    else:
        login = {**({"registry": host} if host else {}), "username": "${{ secrets.REGISTRY_USERNAME }}",
                 "password": "${{ secrets.REGISTRY_PASSWORD }}"}
    steps: list[dict[str, Any]] = [{"name": "Set up Docker Buildx", "uses": _uses("docker/setup-buildx-action")},
             {"name": "Log in to the registry", "uses": _uses("docker/login-action"), "with": login}]
    kinds = ["train"]
    if pipeline.serving is not None and pipeline.serving.mode == "online":
        kinds.append("serve")
    folder = ctx.rooted(ctx.layout.deploy_dir(ctx.spec.name, ctx.spec.env, "docker"))
    if "serve" in kinds and shared(ctx):  # the serving image installs them; only this step reaches the backend
        pins = shquote(f"{ctx.layout.spec_dir}/{pins_file(ctx.spec.env)}")
        steps.append(_with_env({"name": "Pin the served model's training libraries",
                                "run": f'mlform models pins "$MLFORM_SPEC" --env "$MLFORM_ENV" > {pins}\n'},
                               _backend_env(ctx)))
    for kind in kinds:
        steps.append({"name": f"Build and push the {kind} image", "uses": _uses("docker/build-push-action"),
                      "with": {"context": literal(ctx.layout.spec_dir), "file": literal(f"{folder}/Dockerfile.{kind}"),
                               "push": True, "tags": image(ctx, kind)}})
    return steps


def _apply(ctx: Context) -> str:
    command = 'mlform apply "$MLFORM_SPEC" --env "$MLFORM_ENV" --yes'
    if shared(ctx):  # another apply of this spec and environment (a laptop, another workflow) holds the lock: queue
        command += f" --lock-timeout {LOCK_TIMEOUT}"
    steps = [_with_env({"name": "Apply", "run": command + "\n"}, _secrets_env(ctx))]
    permissions = {"contents": "read"}
    if ctx.spec.pipeline.targets.docker is not None:
        steps += _image_steps(ctx)
        if registry_host(ctx) == "ghcr.io":
            permissions["packages"] = "write"
    extra: dict[str, Any] = {"environment": ctx.spec.env} if ctx.spec.env != "default" else {}
    job = _job(ctx, permissions, steps, **extra)
    # `mlform apply` itself refuses other branches and dirty trees when `governance` says so
    on = {"push": {"branches": list(ctx.spec.pipeline.governance.apply_from or ["main"]), "paths": _watched(ctx)},
          "workflow_dispatch": {"inputs": {"reason": {"description": "Why the pipeline is applied again",
                                                      "type": "string", "required": False, "default": "manual"}}}}
    title = f"mlform {ctx.spec.name} ({ctx.spec.env}): apply"
    return _workflow(title, on, {"group": f"mlform-apply-{ctx.spec.name}-{ctx.spec.env}", "cancel-in-progress": False},
                     {"apply": job}, run_name=f"{title} (${{{{ inputs.reason || github.event_name }}}})")


def _monitor(ctx: Context) -> str:
    monitoring = ctx.spec.pipeline.monitoring
    assert monitoring is not None
    script, env, permissions = _MONITOR, _secrets_env(ctx), {"contents": "read"}
    if monitoring.on_breach == "pull_request":  # the workflow's own token pushes the branch and opens the PR
        script = _MONITOR.replace('--env "$MLFORM_ENV"', '--env "$MLFORM_ENV" --open-pr')
        env, permissions = {**env, **_PR_ENV}, {"contents": "write", "pull-requests": "write"}
    monitor_step = _with_env({"name": "Monitor drift and performance", "id": "monitor", "run": script}, env)
    steps = [monitor_step]
    breach = "steps.monitor.outputs.breach == 'true'"
    if monitoring.on_breach == "retrain":
        permissions["actions"] = "write"
        steps.append({"name": "Dispatch retraining", "if": breach, "uses": _uses("actions/github-script"),
                      "env": {"MLFORM_APPLY_WORKFLOW": _file(ctx, "apply")}, "with": {"script": _DISPATCH}})
    elif monitoring.on_breach == "alert":
        steps.append({"name": "Fail on breach", "if": breach, "run": _ALERT})
    job = _job(ctx, permissions, steps)
    cron = _CRON_MACROS.get(monitoring.schedule, monitoring.schedule)
    return _workflow(f"mlform {ctx.spec.name} ({ctx.spec.env}): monitor",
                     {"schedule": [{"cron": cron}], "workflow_dispatch": {}},
                     {"group": f"mlform-monitor-{ctx.spec.name}-{ctx.spec.env}", "cancel-in-progress": False},
                     {"monitor": job})


def render(ctx: Context) -> dict[str, str]:
    """The pull-request and apply workflows, and the monitor workflow when the spec monitors."""
    if ctx.spec.pipeline.targets.github_actions is None:
        return {}
    files = {_file(ctx, "pr"): _pull_request(ctx), _file(ctx, "apply"): _apply(ctx)}
    if ctx.spec.pipeline.monitoring is not None:
        files[_file(ctx, "monitor")] = _monitor(ctx)
    return files
