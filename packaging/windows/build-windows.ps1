# Build the Windows bundle and installer (run from the repository root on Windows):
#   powershell -ExecutionPolicy Bypass -File packaging\windows\build-windows.ps1
# Needs Python 3.11+ (python.org build: its sqlite3 can load extensions) and Inno Setup 6
# (`choco install innosetup`). Leaves dist\photo-tagger\ and dist\photo-tagger-<v>-windows-x64-setup.exe.
$ErrorActionPreference = "Stop"
Set-Location (Join-Path $PSScriptRoot "..\..")

$venv = if ($env:VENV) { $env:VENV } else { ".venv" }
$py = Join-Path $venv "Scripts\python.exe"
if (-not (Test-Path $py)) {
    python -m venv $venv
    & $py -m pip install --quiet --upgrade pip
    # CPU-only torch: the CUDA build would add ~2 GB to the installer.
    & $py -m pip install --quiet torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
    & $py -m pip install --quiet --constraint packaging/requirements.lock -e ".[dev,package]"
}
$version = & $py -c "import photo_tagger; print(photo_tagger.__version__)"

# The installer's icon: the GUI's PNG, else the placeholder, converted with Pillow.
$png = if (Test-Path "resources\icons\photo-tagger.png") { "resources\icons\photo-tagger.png" } else { "packaging\icons\photo-tagger.png" }
New-Item -ItemType Directory -Force build\icons | Out-Null
& $py -c "import sys; from PIL import Image; Image.open(sys.argv[1]).save(sys.argv[2], sizes=[(16,16),(32,32),(48,48),(64,64),(128,128),(256,256)])" $png build\icons\photo-tagger.ico

$t = Get-Date
& (Join-Path $venv "Scripts\pyinstaller.exe") --noconfirm --clean --log-level WARN --distpath dist --workpath build\pyinstaller packaging\photo-tagger.spec
if ($LASTEXITCODE -ne 0) { throw "PyInstaller failed" }
"bundle built in {0:n0} s" -f ((Get-Date) - $t).TotalSeconds

# The same check users run, on the bundle before it is packed.
& dist\photo-tagger\photo-tagger-cli.exe --self-test
if ($LASTEXITCODE -ne 0) { throw "self-test of the bundle failed" }

$iscc = (Get-Command iscc -ErrorAction SilentlyContinue).Source
if (-not $iscc) { $iscc = "${env:ProgramFiles(x86)}\Inno Setup 6\ISCC.exe" }
& $iscc /Qp "/DAppVersion=$version" packaging\windows\photo-tagger.iss
if ($LASTEXITCODE -ne 0) { throw "Inno Setup failed" }
Get-ChildItem dist\*.exe | ForEach-Object { "{0}: {1:n0} MB" -f $_.Name, ($_.Length / 1MB) }
