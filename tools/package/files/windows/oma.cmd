@echo off
rem The oma command: the Node.js runtime bundled in this folder, running OMA's command line.
rem `oma run` and `oma query` without --config read %%OMA_CONFIG%%: the agent's config unless set.
setlocal
if not defined OMA_CONFIG set "OMA_CONFIG=%ProgramData%\OMA\oma.yaml"
"%~dp0node.exe" "%~dp0app\node_modules\@oma\cli\bin\oma.js" %*
exit /b %ERRORLEVEL%
