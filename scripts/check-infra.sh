#!/usr/bin/env bash
# Static checks of infra/: terraform formatting and checkov. Offline: the google provider cannot be
# downloaded here, so there is no `terraform init`/`validate`; tests/infra/ parse the HCL instead.
#
# Usage (from anywhere): scripts/check-infra.sh
# Exits non-zero on unformatted files or on any checkov failure that is not suppressed inline with
# `#checkov:skip=CKV_...:<justification>`.
set -euo pipefail

CHECKOV_VERSION="3.3.30"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${ROOT}/.venv-checkov"

cd "${ROOT}"

# No ~/.terraformrc here; an empty CLI config silences terraform's warning about it.
export TF_CLI_CONFIG_FILE=/dev/null
export TF_IN_AUTOMATION=1

echo "==> terraform fmt -check -recursive infra"
if ! terraform fmt -check -recursive -diff infra; then
  echo "infra/ is not formatted: run 'terraform fmt -recursive infra'" >&2
  exit 1
fi

# checkov lives in its own virtualenv: its pinned dependencies must not touch the project's .venv.
if [[ ! -x "${VENV}/bin/checkov" ]] || [[ "$("${VENV}/bin/checkov" --version 2>/dev/null)" != "${CHECKOV_VERSION}" ]]; then
  echo "==> installing checkov ${CHECKOV_VERSION} into ${VENV}"
  python3 -m venv "${VENV}"
  "${VENV}/bin/pip" install --quiet --disable-pip-version-check "checkov==${CHECKOV_VERSION}"
fi

echo "==> checkov ${CHECKOV_VERSION} -d infra"
# --skip-download: no calls to Prisma Cloud for guidelines or policies (offline and deterministic).
"${VENV}/bin/checkov" -d infra --framework terraform --quiet --compact --skip-download

echo "infra checks passed"
