# Forge in your shell profile: `pip` is `forge pip`, and optionally one env is active in every shell.
#
# bash: append to ~/.bashrc       zsh: append to ~/.zshrc       (or: . /path/to/shell-profile.sh)
# fish: copy the block at the end into ~/.config/fish/config.fish (without the leading "# ").
#
# Needs `forge` on PATH (README: the install command puts it in ~/.local/bin). Inside an env
# activated with `forge activate`, `pip` is that env's Forge pip anyway (ENV/bin/pip); the alias
# makes a bare `pip` outside any env Forge's too: it then acts on the env given by --env NAME,
# $FORGE_ENV, or the active $VIRTUAL_ENV, and refuses to touch a system Python.

if command -v forge >/dev/null 2>&1; then
    alias pip='forge pip'
    alias pip3='forge pip'

    # Activate one env in every new shell: set FORGE_DEFAULT_ENV before this line (an env from
    # `forge envs`). A missing env prints Forge's one-line error and leaves the shell as it was.
    if [ -n "${FORGE_DEFAULT_ENV:-}" ] && [ -z "${VIRTUAL_ENV:-}" ]; then
        if [ -n "${ZSH_VERSION:-}" ]; then
            _forge_activate="$(forge activate "$FORGE_DEFAULT_ENV" --shell zsh)" && eval "$_forge_activate"
        else
            _forge_activate="$(forge activate "$FORGE_DEFAULT_ENV" --shell bash)" && eval "$_forge_activate"
        fi
        unset _forge_activate
    fi
fi

# fish (~/.config/fish/config.fish):
# if command -q forge
#     alias pip 'forge pip'
#     alias pip3 'forge pip'
#     if set -q FORGE_DEFAULT_ENV; and not set -q VIRTUAL_ENV
#         forge activate $FORGE_DEFAULT_ENV --shell fish | source
#     end
# end
