# Sourced at dyno boot (Heroku, Dokku, Scalingo: every .profile.d/*.sh in the app's root, after the
# buildpacks' own). The apt buildpack unpacks espeak-ng into $HOME/.apt, but libespeak-ng looks for its
# voices where Debian put them (/usr/lib/x86_64-linux-gnu/espeak-ng-data, compiled in): without this,
# pyttsx3 cannot start and every call is mute. An explicit ESPEAK_DATA_PATH config var wins.
if [ -z "${ESPEAK_DATA_PATH:-}" ] && [ -d "$HOME/.apt/usr/lib/x86_64-linux-gnu/espeak-ng-data" ]; then
    export ESPEAK_DATA_PATH="$HOME/.apt/usr/lib/x86_64-linux-gnu/espeak-ng-data"
fi
